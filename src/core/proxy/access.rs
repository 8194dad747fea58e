//! Who may do what: digest challenges and checks (with the guessing brake), the rule that only
//! our own authenticated phones and our dialogs may reach other hosts, and REGISTER.

use super::*;

impl Proxy {
    /// Whether a request may go to another host: a request inside a dialog we Record-Routed
    /// (it came along our route), or one from our own phone, once authenticated. Everyone
    /// else gets 403. Returns false when a challenge was sent instead.
    pub(super) fn may_relay(
        &mut self,
        id: ServerTxId,
        req: &mut Request,
        flow: Flow,
        in_dialog: bool,
        routed_through_us: bool,
        now: Time,
    ) -> Result<bool, Refusal> {
        if in_dialog && routed_through_us {
            return Ok(true);
        }
        if !self.is_local_caller(req)? {
            return Err(Refusal::RelayDenied);
        }
        self.authenticate_caller(id, req, flow, now)
    }

    /// Whether the From header claims to be one of us: then the sender must prove it. Any user
    /// at our domain counts, existing or not, so that the answer (407) never tells a scanner
    /// which extensions exist.
    pub(super) fn is_local_caller(&self, req: &Request) -> Result<bool, Refusal> {
        let from = req.headers.from()?;
        Ok(from
            .uri
            .as_sip()
            .is_some_and(|u| self.locality.is_local_domain(&u.host)))
    }

    /// Requests claiming to come from one of our extensions must carry its credentials (407).
    /// Returns false when a challenge or refusal was sent.
    pub(super) fn authenticate_caller(
        &mut self,
        id: ServerTxId,
        req: &mut Request,
        flow: Flow,
        now: Time,
    ) -> Result<bool, Refusal> {
        if !self.is_local_caller(req)? || req.method == Method::Ack || req.method == Method::Cancel
        {
            return Ok(true);
        }
        let from_user = req
            .headers
            .from()?
            .uri
            .as_sip()
            .and_then(SipUri::user_unescaped)
            .unwrap_or_default();
        match self.check_credentials(req, HeaderName::ProxyAuthorization, flow, now) {
            Some(Verdict::Ok { user }) => {
                let same = self
                    .locality
                    .extension(&user)
                    .zip(self.locality.extension(&from_user))
                    .is_some_and(|(a, b)| a.name == b.name);
                if !same {
                    return Err(Refusal::IdentityMismatch);
                }
                // §22.3: credentials for our realm are consumed here, not passed on.
                req.headers.remove_all(&HeaderName::ProxyAuthorization);
                Ok(true)
            }
            Some(Verdict::Stale) => {
                self.challenge(id, req, 407, true, now);
                Ok(false)
            }
            Some(Verdict::Rejected(why)) => {
                info!(user = %from_user, ?why, "authentication failed");
                self.reply(id, req, 403, now, |_| {});
                Ok(false)
            }
            None => {
                self.challenge(id, req, 407, false, now);
                Ok(false)
            }
        }
    }

    /// Verifies the first credentials for our realm, if any. A source that keeps failing is
    /// refused for a while without its guesses being checked (see [`guard`]).
    pub(super) fn check_credentials(
        &mut self,
        req: &Request,
        header: HeaderName,
        flow: Flow,
        now: Time,
    ) -> Option<Verdict> {
        let value = req.headers.get_all(&header).find(|v| {
            crate::core::msg::AuthParams::parse(v)
                .ok()
                .and_then(|p| p.get("realm").map(|r| r == self.auth.realm()))
                .unwrap_or(false)
        })?;
        let source = flow.remote.ip();
        if self.guard.is_locked(source, now) {
            return Some(Verdict::Rejected(Reject::LockedOut));
        }
        let secrets = &self.secrets;
        let verdict = self
            .auth
            .verify(&req.method, value, now, |user| secrets.get(user).cloned());
        match &verdict {
            Verdict::Ok { .. } => self.guard.succeeded(source),
            Verdict::Rejected(_) => {
                if self.guard.failed(source, now) {
                    warn!(%source, lockout_s = guard::LOCKOUT.as_secs(), "too many failed authentications; refusing this address for a while");
                }
            }
            Verdict::Stale => {}
        }
        Some(verdict)
    }

    pub(super) fn challenge(
        &mut self,
        id: ServerTxId,
        req: &Request,
        status: u16,
        stale: bool,
        now: Time,
    ) {
        let header = if status == 401 {
            HeaderName::WwwAuthenticate
        } else {
            HeaderName::ProxyAuthenticate
        };
        let values = self.auth.challenge(now, stale);
        self.reply(id, req, status, now, |resp| {
            for v in values {
                resp.headers.push(header.clone(), v);
            }
        });
    }

    /// §8.2.2.3: where we are the UAS (REGISTER, requests for the server itself) a Require we
    /// do not support gets 420 listing it. A proxy ignores Require (it is the far end's).
    pub(super) fn unsupported_requirement(
        &mut self,
        id: ServerTxId,
        req: &Request,
        now: Time,
    ) -> bool {
        let required: Vec<String> = req
            .headers
            .get_all(&HeaderName::Require)
            .map(str::to_owned)
            .collect();
        if required.is_empty() {
            return false;
        }
        self.reply(id, req, 420, now, |resp| {
            resp.headers
                .push(HeaderName::Unsupported, required.join(", "))
        });
        true
    }

    pub(super) fn register(
        &mut self,
        id: ServerTxId,
        req: &Request,
        flow: Flow,
        ruri: &SipUri,
        now: Time,
    ) {
        if !self.locality.is_local_uri(ruri) {
            self.reply(id, req, Refusal::RelayDenied.status(), now, |_| {});
            return;
        }
        if self.unsupported_requirement(id, req, now) {
            return;
        }
        let user = match self.check_credentials(req, HeaderName::Authorization, flow, now) {
            Some(Verdict::Ok { user }) => user,
            Some(Verdict::Stale) => return self.challenge(id, req, 401, true, now),
            Some(Verdict::Rejected(why)) => {
                info!(remote = %flow.remote, ?why, "registration refused: bad credentials");
                return self.reply(id, req, 403, now, |_| {});
            }
            None => return self.challenge(id, req, 401, false, now),
        };
        let to_user = req
            .headers
            .to()
            .ok()
            .and_then(|to| to.uri.as_sip().and_then(SipUri::user_unescaped));
        let ext = match (
            self.locality.extension(&user),
            to_user.as_deref().and_then(|u| self.locality.extension(u)),
        ) {
            (Some(a), Some(b)) if a.name == b.name => a.clone(),
            _ => {
                info!(%user, to = ?to_user, "registration refused: credentials are not the To user's");
                return self.reply(id, req, 403, now, |_| {});
            }
        };
        let generation = self.registrar.generation();
        let outcome = self.registrar.register(&ext.name, req, flow, now);
        if self.registrar.generation() != generation {
            // Refreshes too: a restart must restore the latest expiry, not an older one.
            self.events.push_back(Event::BindingsChanged);
        }
        match outcome {
            RegisterOutcome::Ok { bindings, changed } => {
                if changed {
                    info!(aor = %ext.name, bindings = bindings.len(), remote = %flow.remote, "registration changed");
                }
                let contacts: Vec<String> = bindings
                    .iter()
                    .map(|b| contact_for_response(b, now))
                    .collect();
                self.reply(id, req, 200, now, |resp| {
                    for c in contacts {
                        resp.headers.push(HeaderName::Contact, c);
                    }
                });
            }
            RegisterOutcome::IntervalTooBrief { min_expires } => {
                self.reply(id, req, 423, now, |resp| {
                    resp.headers
                        .push(HeaderName::MinExpires, min_expires.to_string())
                })
            }
            RegisterOutcome::BadRequest(why) => {
                info!(why, "bad REGISTER");
                self.reply(id, req, 400, now, |_| {});
            }
            RegisterOutcome::OutOfOrder => self.reply(id, req, 500, now, |resp| {
                resp.headers.push(HeaderName::RetryAfter, "1")
            }),
        }
    }
}
