use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_back_off_doubles_with_each_death_in_the_window_up_to_its_maximum() {
    let policy = RestartPolicy::default();
    let waits: Vec<u64> = (1..=11)
        .map(|d| policy.backoff_after(d).as_millis() as u64)
        .collect();
    assert_eq!(
        waits,
        [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
    );
}

#[test]
fn a_supervised_role_restarts_after_its_back_off_and_counts_it() {
    let mut s = Supervision::new();
    s.supervise(Role::Downstream, RestartPolicy::default());
    let t0 = Instant::now();
    let after = s.handle_died(Role::Downstream, "boom".into(), t0);
    assert_eq!(
        after,
        AfterDeath::Restart {
            at: t0 + ms(100),
            deaths_in_window: 1
        }
    );
    assert!(!s.is_running(Role::Downstream));
    assert_eq!(s.poll_restart(t0 + ms(99)), None);
    assert_eq!(s.next_restart(), Some(t0 + ms(100)));
    assert_eq!(s.poll_restart(t0 + ms(100)), Some(Role::Downstream));
    assert!(s.is_running(Role::Downstream));
    assert_eq!(s.restarts(Role::Downstream), 1);
    assert_eq!(s.last_death(Role::Downstream), Some("boom"));
    assert_eq!(s.down_reason(), None);
}

#[test]
fn more_deaths_than_max_restarts_within_the_window_are_final() {
    let mut s = Supervision::new();
    let policy = RestartPolicy::default()
        .max_restarts(2)
        .within(Duration::from_secs(10));
    s.supervise(Role::Acked, policy);
    let t0 = Instant::now();
    for i in 0..2 {
        let now = t0 + Duration::from_secs(i);
        assert!(matches!(
            s.handle_died(Role::Acked, format!("death {i}"), now),
            AfterDeath::Restart { .. }
        ));
        assert_eq!(
            s.poll_restart(now + Duration::from_secs(1)),
            Some(Role::Acked)
        );
    }
    let third = t0 + Duration::from_secs(3);
    assert_eq!(
        s.handle_died(Role::Acked, "death 2".into(), third),
        AfterDeath::Final
    );
    assert!(s.is_down(Role::Acked));
    let reason = s.down_reason().unwrap();
    assert!(
        reason.contains("acked actor died more than 2 times"),
        "{reason}"
    );
    assert!(reason.contains("death 2"), "{reason}");
}

#[test]
fn deaths_that_left_the_window_do_not_count() {
    let mut s = Supervision::new();
    let policy = RestartPolicy::default()
        .max_restarts(1)
        .within(Duration::from_secs(10));
    s.supervise(Role::NoAcked, policy);
    let t0 = Instant::now();
    s.handle_died(Role::NoAcked, "a".into(), t0);
    s.poll_restart(t0 + Duration::from_secs(1));
    let later = t0 + Duration::from_secs(10);
    assert_eq!(
        s.handle_died(Role::NoAcked, "b".into(), later),
        AfterDeath::Restart {
            at: later + ms(100),
            deaths_in_window: 1
        }
    );
}

#[test]
fn a_role_given_as_an_address_is_down_at_its_first_death() {
    let mut s = Supervision::new();
    let t0 = Instant::now();
    assert_eq!(
        s.handle_died(Role::Downstream, "it stopped".into(), t0),
        AfterDeath::Final
    );
    assert!(s.is_down(Role::Downstream));
    assert_eq!(s.next_restart(), None);
    let reason = s.down_reason().unwrap();
    assert!(reason.contains("cannot be restarted"), "{reason}");
}
