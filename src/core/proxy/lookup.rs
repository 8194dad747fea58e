//! Routing by name: RFC 3263 lookups the shell performs for us, and failover between the
//! targets they return (§4.3).

use super::*;

impl Proxy {
    /// The next hop is `next` (the Request-URI or the top Route): a known flow, or a name to
    /// locate first (RFC 3263).
    pub(super) fn route_to(
        &self,
        next: &SipUri,
        req: &Request,
        now: Time,
    ) -> Result<Route, Refusal> {
        if let Some(flow) = self.flow_for(next, now) {
            return Ok(Route::Forward(vec![(req.uri.clone(), flow)]));
        }
        match (&next.host, next.params.value("maddr")) {
            (Host::Name(_), _) | (_, Some(_)) => Ok(Route::Locate(next.clone())),
            _ => Err(Refusal::NoRoute),
        }
    }

    /// The servers of a located URI (or why there are none): forward the waiting request to
    /// the first, keeping the others for failover (RFC 3263 §4.3).
    pub fn handle_located(
        &mut self,
        id: LookupId,
        result: Result<Vec<Target>, LocateError>,
        now: Time,
    ) {
        let Some(pending) = self.lookups.remove(&id) else {
            return;
        };
        let mut flows: VecDeque<Flow> = match result {
            Ok(targets) => targets
                .iter()
                .filter_map(|t| {
                    let transport = t.transport.flow()?;
                    let listener = self.locality.listener_for(transport, t.addr.ip())?;
                    Some(Flow {
                        transport,
                        local: listener.addr,
                        remote: t.addr,
                    })
                })
                .collect(),
            Err(e) => {
                info!(?id, error = %e, status = e.status(), "could not locate the target");
                self.reply(pending.server, &pending.request, e.status(), now, |_| {});
                self.pump(now);
                return;
            }
        };
        let Some(first) = flows.pop_front() else {
            info!(?id, "no target we can reach (transport or address family)");
            self.reply(
                pending.server,
                &pending.request,
                Refusal::NoRoute.status(),
                now,
                |_| {},
            );
            self.pump(now);
            return;
        };
        let uri = pending.request.uri.clone();
        self.forward(
            pending.server,
            pending.request,
            pending.in_flow,
            vec![(uri, first)],
            now,
        );
        if !flows.is_empty()
            && let Some(ctx) = self.contexts.get_mut(&pending.server)
            && let Some(cid) = ctx.fork.branches().next()
            && let Some(sent) = self.txs.client_request(cid).cloned()
        {
            ctx.failover = Some(Failover { next: flows, sent });
        }
        self.pump(now);
    }

    /// RFC 3263 §4.3: a located branch that timed out, failed at the transport or answered 503
    /// is re-sent to the next target, as a new client transaction with a new branch. Returns
    /// whether it was (then the failure is not the caller's business).
    pub(super) fn fail_over(&mut self, sid: ServerTxId, failed: ClientTxId, now: Time) -> bool {
        let Some(ctx) = self.contexts.get_mut(&sid) else {
            return false;
        };
        let Some(failover) = ctx.failover.as_mut() else {
            return false;
        };
        let Some(flow) = failover.next.pop_front() else {
            return false;
        };
        let mut req = failover.sent.clone();
        let Ok(mut via) = req.headers.top_via() else {
            return false;
        };
        let loop_hash = via
            .branch()
            .and_then(loop_hash_of_branch)
            .unwrap_or("x")
            .to_owned();
        via.params.set("branch", Some(&self.ids.branch(&loop_hash)));
        via.transport = flow.transport.as_via().to_owned();
        via.sent_by = crate::core::msg::HostPort {
            host: Host::from(flow.local.ip()),
            port: Some(flow.local.port()),
        };
        req.headers.pop_front(&HeaderName::Via);
        req.headers.push_front(HeaderName::Via, via.to_string());
        failover.sent = req.clone();
        info!(remote = %flow.remote, "failing over to the next target");
        let invite = req.method == Method::Invite;
        let cid = self.txs.send(req, flow, now);
        ctx.fork.replace_branch(failed, cid);
        ctx.live_branches += 1;
        self.branch_owner.remove(&failed);
        self.branch_owner.insert(cid, sid);
        self.disarm_timer_c(failed);
        if invite {
            self.arm_timer_c(cid, now + TIMER_C, false);
        }
        true
    }
}
