//! Timer C (RFC 3261 §16.8): how long an INVITE branch may ring before it is CANCELled, and
//! how long a CANCELled branch may stay silent before it is given up.

use super::*;

impl Proxy {
    pub(super) fn arm_timer_c(&mut self, id: ClientTxId, at: Time, cancelled: bool) {
        if let Some(old) = self.timer_c_at.insert(id, TimerC { at, cancelled }) {
            self.timer_c.remove(&(old.at, id));
        }
        self.timer_c.insert((at, id));
    }

    pub(super) fn disarm_timer_c(&mut self, id: ClientTxId) {
        if let Some(old) = self.timer_c_at.remove(&id) {
            self.timer_c.remove(&(old.at, id));
        }
    }

    /// §16.8: a branch that rang too long is CANCELled; one that then still does not answer
    /// within 64*T1 (§9.1) is abandoned as if it had answered 408.
    pub(super) fn fire_timer_c(&mut self, now: Time) {
        while let Some(&(at, id)) = self.timer_c.first() {
            if at > now {
                break;
            }
            self.timer_c.remove(&(at, id));
            let Some(state) = self.timer_c_at.remove(&id) else {
                continue;
            };
            let Some(&sid) = self.branch_owner.get(&id) else {
                continue;
            };
            if !state.cancelled {
                info!(?id, "Timer C: cancelling a branch that rang too long");
                self.send_cancel(id, now);
                let wait = self.txs.config().t1 * 64;
                self.arm_timer_c(id, now + wait, true);
            } else {
                self.txs.terminate_client(id);
                self.fail_branch(sid, id, 408, now);
            }
        }
    }
}
