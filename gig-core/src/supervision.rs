//! Restarting the user's actors: when to start one again after it died, and when to give up.
//!
//! A consumer talks to three user actors, its [`Role`]s. One given to Gig as a factory is
//! *supervised*: when it dies (a handler panicked, or it stopped) Gig starts a new instance
//! after a back-off that doubles with each death in the policy's window, and gives up once
//! more than `max_restarts` fall in that window. One given as an address cannot be started
//! again: its death is final at once. Either way a role that is down for good is reported,
//! so that a probe sees it, rather than its records flowing to the dead-letter path.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// One of the user actors a consumer talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The actor records are delivered to.
    Downstream,
    /// The actor acked records are handed over to.
    Acked,
    /// The actor records that were not acked are handed over to.
    NoAcked,
}

impl Role {
    /// Every role, in the order of a record's path.
    pub const ALL: [Role; 3] = [Role::Downstream, Role::Acked, Role::NoAcked];

    fn index(self) -> usize {
        self as usize
    }

    /// The role's name in logs, stats and metrics: `downstream`, `acked`, `no_acked`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Downstream => "downstream",
            Role::Acked => "acked",
            Role::NoAcked => "no_acked",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Downstream => "downstream actor",
            Role::Acked => "acked actor",
            Role::NoAcked => "no-acked actor",
        })
    }
}

/// How Gig restarts an actor it started from a factory.
///
/// After a death, the next instance starts after `first_backoff`, doubled for each other
/// death within `window`, at most `max_backoff`. More than `max_restarts` deaths within
/// `window` and Gig gives up: the consumer stops fetching and its `Health` is not live,
/// naming the last death. The defaults (10 within 5 minutes, 100 ms doubling to 30 s) give
/// up on an actor that dies on everything after about 80 s and 11 records, and never on
/// one that dies once in a while.
///
/// ```
/// use std::time::Duration;
/// use gig_core::RestartPolicy;
///
/// let policy = RestartPolicy::default()
///     .max_restarts(3)
///     .within(Duration::from_secs(60))
///     .backoff(Duration::from_millis(50), Duration::from_secs(5));
/// assert_eq!(policy.max_restarts, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// The most restarts within `window`; the next death is final. Default 10.
    pub max_restarts: u32,
    /// The window restarts are counted in. Default 5 minutes.
    pub window: Duration,
    /// The wait before a restart after the only death in the window. Default 100 ms.
    pub first_backoff: Duration,
    /// The longest wait before a restart. Default 30 s.
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 10,
            window: Duration::from_secs(300),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RestartPolicy {
    /// At most `restarts` restarts within the window.
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.max_restarts = restarts;
        self
    }

    /// The window restarts are counted in.
    pub fn within(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The first wait before a restart, and the longest.
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// The wait before restarting after the `deaths`-th death in the window (from 1).
    fn backoff_after(&self, deaths: usize) -> Duration {
        let doublings = deaths.saturating_sub(1).min(31) as u32;
        self.first_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// What follows a death.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterDeath {
    /// A new instance starts at `at`.
    Restart {
        /// When.
        at: Instant,
        /// Deaths within the policy's window, this one included.
        deaths_in_window: u32,
    },
    /// None will: the role is down for good.
    Final,
}

/// Where a role's actor is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Life {
    Running,
    Restarting(Instant),
    /// Down for good: gave up, or there is no factory to start it again.
    Down,
}

#[derive(Debug)]
struct Watched {
    /// `None` when the role was given as an address: nothing can start it again.
    policy: Option<RestartPolicy>,
    life: Life,
    deaths: VecDeque<Instant>,
    restarts: u64,
    /// Why it last died, for a person.
    last_death: Option<String>,
}

/// The life of a consumer's three user actors: sans-I/O, every method that needs the time
/// takes `now`.
#[derive(Debug)]
pub struct Supervision {
    roles: [Watched; 3],
}

impl Default for Supervision {
    fn default() -> Self {
        let watched = || Watched {
            policy: None,
            life: Life::Running,
            deaths: VecDeque::new(),
            restarts: 0,
            last_death: None,
        };
        Supervision {
            roles: [watched(), watched(), watched()],
        }
    }
}

impl Supervision {
    /// Every role running, none restartable until [`supervise`](Self::supervise).
    pub fn new() -> Self {
        Self::default()
    }

    /// `role` was given as a factory: it is restarted under `policy` when it dies.
    pub fn supervise(&mut self, role: Role, policy: RestartPolicy) {
        self.roles[role.index()].policy = Some(policy);
    }

    /// Whether `role` is started from a factory.
    pub fn is_supervised(&self, role: Role) -> bool {
        self.roles[role.index()].policy.is_some()
    }

    /// Whether `role`'s actor is there to take messages.
    pub fn is_running(&self, role: Role) -> bool {
        self.roles[role.index()].life == Life::Running
    }

    /// Whether `role` is down for good.
    pub fn is_down(&self, role: Role) -> bool {
        self.roles[role.index()].life == Life::Down
    }

    /// `role`'s actor died, for the reason `why`: when a new one starts, if one does.
    pub fn handle_died(&mut self, role: Role, why: String, now: Instant) -> AfterDeath {
        let watched = &mut self.roles[role.index()];
        watched.last_death = Some(why);
        if watched.life == Life::Down {
            return AfterDeath::Final;
        }
        let Some(policy) = &watched.policy else {
            watched.life = Life::Down;
            return AfterDeath::Final;
        };
        watched.deaths.push_back(now);
        while let Some(&first) = watched.deaths.front() {
            if now.saturating_duration_since(first) < policy.window {
                break;
            }
            watched.deaths.pop_front();
        }
        let deaths = watched.deaths.len();
        if deaths > policy.max_restarts as usize {
            watched.life = Life::Down;
            return AfterDeath::Final;
        }
        let at = now + policy.backoff_after(deaths);
        watched.life = Life::Restarting(at);
        AfterDeath::Restart {
            at,
            deaths_in_window: deaths as u32,
        }
    }

    /// The earliest restart that is due later.
    pub fn next_restart(&self) -> Option<Instant> {
        self.roles
            .iter()
            .filter_map(|w| match w.life {
                Life::Restarting(at) => Some(at),
                _ => None,
            })
            .min()
    }

    /// A role whose restart is due at `now`: the driver starts a new instance of it. The
    /// role counts as running from here.
    pub fn poll_restart(&mut self, now: Instant) -> Option<Role> {
        let role = Role::ALL.into_iter().find(
            |role| matches!(self.roles[role.index()].life, Life::Restarting(at) if at <= now),
        )?;
        let watched = &mut self.roles[role.index()];
        watched.life = Life::Running;
        watched.restarts += 1;
        Some(role)
    }

    /// How many times `role` was started again.
    pub fn restarts(&self, role: Role) -> u64 {
        self.roles[role.index()].restarts
    }

    /// Why `role` last died.
    pub fn last_death(&self, role: Role) -> Option<&str> {
        self.roles[role.index()].last_death.as_deref()
    }

    /// Why a role is down for good, for a person: `None` while every role runs or will run
    /// again.
    pub fn down_reason(&self) -> Option<String> {
        Role::ALL.into_iter().find_map(|role| {
            let watched = &self.roles[role.index()];
            if watched.life != Life::Down {
                return None;
            }
            let why = watched.last_death.as_deref().unwrap_or("it stopped");
            Some(match &watched.policy {
                Some(policy) => format!(
                    "the {role} died more than {} times within {:?}; the last time: {why}",
                    policy.max_restarts, policy.window
                ),
                None => format!(
                    "the {role} is gone ({why}) and was given as an address, so it cannot be restarted"
                ),
            })
        })
    }
}

#[cfg(test)]
mod tests;
