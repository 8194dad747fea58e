//! The response context of a forked request (RFC 3261 §16.7): which branches are pending, which
//! final response is best so far, when to forward it, and which branches to CANCEL.
//!
//! Pure bookkeeping, generic over the branch handle, so every race (2xx vs 486, CANCEL before
//! any provisional, 6xx stopping the rest) is tested without a transaction layer.

use crate::core::msg::{HeaderName, Response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BranchState {
    /// Sent, nothing heard yet: a CANCEL must wait for a provisional response (§9.1).
    Trying,
    /// A provisional response arrived.
    Proceeding,
    Done,
}

#[derive(Debug)]
struct Branch<B> {
    id: B,
    state: BranchState,
    /// CANCEL wanted for this branch (sent as soon as it is allowed).
    cancel_wanted: bool,
    cancel_sent: bool,
}

/// What the proxy must do after feeding the context.
#[derive(Debug, PartialEq, Eq)]
pub enum ForkAction<B> {
    /// Forward this response upstream (provisional, a 2xx, or the final best response).
    Forward(Response),
    /// Send a CANCEL on this branch.
    Cancel(B),
}

#[derive(Debug)]
pub struct Fork<B> {
    branches: Vec<Branch<B>>,
    /// Best non-2xx final response so far, with the challenges of every 401/407 collected.
    best: Option<Response>,
    challenges: Vec<(HeaderName, String)>,
    /// A final response went upstream (a 2xx, or the best response once all branches ended).
    /// Further 2xx responses are still forwarded (§16.7 step 5), nothing else is.
    final_forwarded: bool,
    got_2xx: bool,
}

impl<B: Copy + PartialEq> Fork<B> {
    pub fn new(branches: impl IntoIterator<Item = B>) -> Self {
        Fork {
            branches: branches
                .into_iter()
                .map(|id| Branch {
                    id,
                    state: BranchState::Trying,
                    cancel_wanted: false,
                    cancel_sent: false,
                })
                .collect(),
            best: None,
            challenges: Vec::new(),
            final_forwarded: false,
            got_2xx: false,
        }
    }

    /// The branch `old` is being retried as `new` (RFC 3263 failover): same place in the
    /// context, a fresh start.
    pub fn replace_branch(&mut self, old: B, new: B) {
        if let Some(b) = self.branch_mut(old) {
            let cancel_wanted = b.cancel_wanted;
            *b = Branch {
                id: new,
                state: BranchState::Trying,
                cancel_wanted,
                cancel_sent: false,
            };
        }
    }

    /// Every branch, answered or not.
    pub fn branches(&self) -> impl Iterator<Item = B> + '_ {
        self.branches.iter().map(|b| b.id)
    }

    /// Every branch has ended and the final answer went upstream: the context can go.
    pub fn is_finished(&self) -> bool {
        self.final_forwarded && self.branches.iter().all(|b| b.state == BranchState::Done)
    }

    pub fn final_forwarded(&self) -> bool {
        self.final_forwarded
    }

    fn branch_mut(&mut self, id: B) -> Option<&mut Branch<B>> {
        self.branches.iter_mut().find(|b| b.id == id)
    }

    /// A response (provisional or final) arrived on branch `id`.
    pub fn on_response(&mut self, id: B, resp: Response) -> Vec<ForkAction<B>> {
        let mut out = Vec::new();
        let Some(branch) = self.branch_mut(id) else {
            return out;
        };
        if branch.state == BranchState::Done {
            // A 2xx retransmission after the branch ended is still forwarded.
            if (200..300).contains(&resp.status) {
                out.push(ForkAction::Forward(resp));
            }
            return out;
        }
        if resp.status < 200 {
            if branch.state == BranchState::Trying {
                branch.state = BranchState::Proceeding;
                if branch.cancel_wanted && !branch.cancel_sent {
                    branch.cancel_sent = true;
                    out.push(ForkAction::Cancel(id));
                }
            }
            // 100 is hop-by-hop (§16.7 step 5); others go up until the final answer.
            if resp.status > 100 && !self.final_forwarded {
                out.push(ForkAction::Forward(resp));
            }
            return out;
        }
        branch.state = BranchState::Done;
        if (200..300).contains(&resp.status) {
            self.got_2xx = true;
            self.final_forwarded = true;
            out.push(ForkAction::Forward(resp));
            out.extend(self.cancel_pending());
            return out;
        }
        if resp.status >= 600 {
            out.extend(self.cancel_pending());
        }
        if resp.status == 401 || resp.status == 407 {
            for h in resp.headers.iter() {
                if matches!(
                    h.name,
                    HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate
                ) {
                    self.challenges.push((h.name.clone(), h.value.clone()));
                }
            }
        }
        if self.best.as_ref().is_none_or(|best| better(&resp, best)) {
            self.best = Some(resp);
        }
        out.extend(self.forward_best_if_done());
        out
    }

    /// Branch `id` failed without a response (timer B/F or transport error): as if `status`
    /// (408 or 503) had arrived (§16.7 step 2 / §16.8).
    pub fn on_failure(&mut self, id: B, synthetic: Response) -> Vec<ForkAction<B>> {
        match self.branch_mut(id) {
            Some(b) if b.state != BranchState::Done => self.on_response(id, synthetic),
            _ => Vec::new(),
        }
    }

    /// The caller CANCELled (or Timer C fired): cancel every pending branch. Branches that have
    /// not yet answered get their CANCEL when their first provisional response arrives.
    pub fn cancel_all(&mut self) -> Vec<ForkAction<B>> {
        self.cancel_pending()
    }

    fn cancel_pending(&mut self) -> Vec<ForkAction<B>> {
        let mut out = Vec::new();
        for b in &mut self.branches {
            if b.state == BranchState::Done || b.cancel_wanted {
                continue;
            }
            b.cancel_wanted = true;
            if b.state == BranchState::Proceeding {
                b.cancel_sent = true;
                out.push(ForkAction::Cancel(b.id));
            }
        }
        out
    }

    fn forward_best_if_done(&mut self) -> Option<ForkAction<B>> {
        if self.final_forwarded || self.branches.iter().any(|b| b.state != BranchState::Done) {
            return None;
        }
        let mut best = self.best.take()?;
        self.final_forwarded = true;
        if best.status == 503 {
            // §16.7 step 6: a 503 means *this hop* is overloaded; upstream must not take it so.
            best.status = 500;
            best.reason = crate::core::msg::reason_phrase(500).to_owned();
        }
        if best.status == 401 || best.status == 407 {
            // §16.7 step 7: the client must see every realm's challenge.
            best.headers.remove_all(&HeaderName::WwwAuthenticate);
            best.headers.remove_all(&HeaderName::ProxyAuthenticate);
            for (name, value) in self.challenges.drain(..) {
                best.headers.push(name, value);
            }
        }
        Some(ForkAction::Forward(best))
    }
}

/// Whether `a` is a better final answer than `b` (§16.7 step 6): any 6xx wins; otherwise the
/// lowest class; within 4xx, answers the caller can act on (credentials, a different media
/// type, a shorter number) beat "nobody there".
fn better(a: &Response, b: &Response) -> bool {
    fn rank(status: u16) -> (u8, u8) {
        let class = match status / 100 {
            6 => 0,
            3 => 1,
            4 => 2,
            5 => 3,
            _ => 4,
        };
        let within = match status {
            401 | 407 | 415 | 420 | 484 => 0,
            486 | 600 | 603 => 1,
            408 | 480 | 487 => 3,
            _ => 2,
        };
        (class, within)
    }
    rank(a.status) < rank(b.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::msg::Headers;

    fn resp(status: u16) -> Response {
        Response {
            status,
            reason: crate::core::msg::reason_phrase(status).to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    fn statuses(actions: &[ForkAction<u8>]) -> Vec<u16> {
        actions
            .iter()
            .filter_map(|a| match a {
                ForkAction::Forward(r) => Some(r.status),
                ForkAction::Cancel(_) => None,
            })
            .collect()
    }

    fn cancels(actions: &[ForkAction<u8>]) -> Vec<u8> {
        actions
            .iter()
            .filter_map(|a| match a {
                ForkAction::Cancel(b) => Some(*b),
                ForkAction::Forward(_) => None,
            })
            .collect()
    }

    #[test]
    fn first_2xx_wins_and_cancels_the_ringing_branches() {
        let mut f = Fork::new([1u8, 2, 3]);
        assert_eq!(statuses(&f.on_response(1, resp(180))), vec![180]);
        assert_eq!(statuses(&f.on_response(2, resp(180))), vec![180]);
        let a = f.on_response(2, resp(200));
        assert_eq!(statuses(&a), vec![200]);
        // branch 1 rang: cancel now; branch 3 never answered: cancel when it does (§9.1)
        assert_eq!(cancels(&a), vec![1]);
        let a = f.on_response(3, resp(100));
        assert_eq!(cancels(&a), vec![3]);
        assert!(statuses(&a).is_empty());
        // the cancelled branches end with 487, which is not forwarded after the 200
        assert!(f.on_response(1, resp(487)).is_empty());
        assert!(!f.is_finished());
        assert!(f.on_response(3, resp(487)).is_empty());
        assert!(f.is_finished());
    }

    #[test]
    fn best_final_waits_for_every_branch() {
        let mut f = Fork::new([1u8, 2]);
        assert!(f.on_response(1, resp(480)).is_empty());
        assert_eq!(statuses(&f.on_response(2, resp(486))), vec![486]);
        assert!(f.is_finished());
    }

    #[test]
    fn six_hundred_cancels_the_rest_and_is_chosen() {
        let mut f = Fork::new([1u8, 2]);
        f.on_response(2, resp(183));
        let a = f.on_response(1, resp(603));
        assert_eq!(cancels(&a), vec![2]);
        assert!(statuses(&a).is_empty());
        assert_eq!(statuses(&f.on_response(2, resp(487))), vec![603]);
    }

    #[test]
    fn timeout_counts_as_408_and_503_becomes_500() {
        let mut f = Fork::new([1u8, 2]);
        assert!(f.on_failure(1, resp(408)).is_empty());
        assert_eq!(statuses(&f.on_failure(2, resp(503))), vec![408]);
        let mut g = Fork::new([1u8]);
        assert_eq!(statuses(&g.on_failure(1, resp(503))), vec![500]);
    }

    #[test]
    fn a_late_2xx_is_still_forwarded() {
        let mut f = Fork::new([1u8, 2]);
        f.on_response(1, resp(180));
        f.on_response(2, resp(180));
        assert_eq!(statuses(&f.on_response(1, resp(200))), vec![200]);
        // branch 2 answered before our CANCEL reached it: both 2xx go up (§16.7 step 5)
        assert_eq!(statuses(&f.on_response(2, resp(200))), vec![200]);
        // and retransmissions of a 2xx too
        assert_eq!(statuses(&f.on_response(2, resp(200))), vec![200]);
    }

    #[test]
    fn caller_cancel_before_any_answer_waits_for_provisional() {
        let mut f = Fork::new([1u8]);
        assert!(f.cancel_all().is_empty());
        let a = f.on_response(1, resp(180));
        assert_eq!(cancels(&a), vec![1]);
        assert_eq!(statuses(&f.on_response(1, resp(487))), vec![487]);
    }

    #[test]
    fn challenges_are_aggregated() {
        let mut f = Fork::new([1u8, 2]);
        let mut a = resp(407);
        a.headers
            .push(HeaderName::ProxyAuthenticate, "Digest realm=\"a\"");
        let mut b = resp(401);
        b.headers
            .push(HeaderName::WwwAuthenticate, "Digest realm=\"b\"");
        f.on_response(1, a);
        let out = f.on_response(2, b);
        let ForkAction::Forward(best) = &out[0] else {
            panic!("no forward")
        };
        assert_eq!(best.headers.iter().count(), 2);
    }

    #[test]
    fn preference_within_4xx() {
        assert!(better(&resp(486), &resp(480)));
        assert!(better(&resp(407), &resp(486)));
        assert!(better(&resp(302), &resp(404)));
        assert!(better(&resp(600), &resp(200 + 100)));
        assert!(!better(&resp(503), &resp(404)));
    }
}
