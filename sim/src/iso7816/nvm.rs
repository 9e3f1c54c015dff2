//! Non-volatile memory: the card's persistent state, written only through atomic commits.
//!
//! A power loss can be armed to strike before the n-th next commit: that commit and everything
//! after it never happen. This is how tearing is modelled — a card keeps exactly what it had
//! committed when the field went away.

/// The card lost power before a write could be committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerLost;

/// Persistent state `S` behind atomic commits.
#[derive(Clone, Debug)]
pub struct Nvm<S> {
    state: S,
    commits: u64,
    power_loss_after: Option<u32>,
}

impl<S> Nvm<S> {
    /// Memory holding `state`.
    pub fn new(state: S) -> Self {
        Nvm {
            state,
            commits: 0,
            power_loss_after: None,
        }
    }
    /// The committed state.
    pub fn get(&self) -> &S {
        &self.state
    }
    /// Applies `write` atomically, or not at all when an armed power loss strikes first.
    pub fn commit(&mut self, write: impl FnOnce(&mut S)) -> Result<(), PowerLost> {
        match self.power_loss_after {
            Some(0) => {
                self.power_loss_after = None;
                Err(PowerLost)
            }
            Some(n) => {
                self.power_loss_after = Some(n - 1);
                self.apply(write);
                Ok(())
            }
            None => {
                self.apply(write);
                Ok(())
            }
        }
    }
    fn apply(&mut self, write: impl FnOnce(&mut S)) {
        write(&mut self.state);
        self.commits += 1;
    }
    /// Arms a power loss that strikes before the commit after `commits` more successful ones
    /// (0 = the very next commit fails).
    pub fn arm_power_loss(&mut self, commits: u32) {
        self.power_loss_after = Some(commits);
    }
    /// Removes an armed power loss that has not struck.
    pub fn disarm(&mut self) {
        self.power_loss_after = None;
    }
    /// Whether a power loss is armed and has not struck.
    pub fn is_armed(&self) -> bool {
        self.power_loss_after.is_some()
    }
    /// Commits made so far.
    pub fn commits(&self) -> u64 {
        self.commits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_power_loss_stops_exactly_that_commit() {
        let mut nvm = Nvm::new(0u32);
        nvm.arm_power_loss(2);
        assert_eq!(nvm.commit(|s| *s += 1), Ok(()));
        assert_eq!(nvm.commit(|s| *s += 1), Ok(()));
        assert_eq!(nvm.commit(|s| *s += 1), Err(PowerLost));
        assert_eq!(*nvm.get(), 2);
        assert!(!nvm.is_armed());
        assert_eq!(nvm.commit(|s| *s += 1), Ok(()));
        assert_eq!((*nvm.get(), nvm.commits()), (3, 3));
    }
}
