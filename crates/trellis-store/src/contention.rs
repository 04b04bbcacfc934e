//! Changes the database stopped because of another transaction, made again.
//!
//! Changes to different referrals can meet on the report rollup rows their triggers add to, and
//! PostgreSQL then stops one of them to break the deadlock ([`StoreError::Contended`]). The stopped
//! change saved nothing, so it is made again from its first read: the version it was made against is
//! checked again, so it is never applied twice, and a change that did lose a race still gets `Conflict`.

use std::future::Future;

use crate::StoreError;
use crate::links::LinkError;

/// How many times a stopped change is made again before its caller hears of it.
const AGAIN: usize = 2;

/// An error that may be a change stopped for another transaction.
pub(crate) trait Contention {
    /// Whether the database stopped the change for another transaction.
    fn is_contended(&self) -> bool;
}

impl Contention for StoreError {
    fn is_contended(&self) -> bool {
        matches!(self, StoreError::Contended)
    }
}

impl Contention for LinkError {
    fn is_contended(&self) -> bool {
        matches!(self, LinkError::Store(StoreError::Contended))
    }
}

/// Makes `change`, and makes it again (at most [`AGAIN`] more times) while the database stops it for
/// another transaction.
pub(crate) async fn retried<T, E, F, Fut>(mut change: F) -> Result<T, E>
where
    E: Contention,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut again = AGAIN;
    loop {
        match change().await {
            Err(e) if e.is_contended() && again > 0 => {
                again -= 1;
                tracing::info!("a change stopped for another transaction is made again");
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::{AGAIN, retried};
    use crate::StoreError;

    /// A change stopped `stops` times before it goes through; returns its result and how often it was made.
    async fn stopped(stops: usize) -> (Result<&'static str, StoreError>, usize) {
        let made = Cell::new(0);
        let result = retried(|| {
            made.set(made.get() + 1);
            let stop = made.get() <= stops;
            async move { if stop { Err(StoreError::Contended) } else { Ok("saved") } }
        })
        .await;
        (result, made.get())
    }

    #[tokio::test]
    async fn a_change_stopped_for_another_transaction_is_made_again_until_it_goes_through() {
        assert!(matches!(stopped(0).await, (Ok("saved"), 1)));
        assert!(matches!(stopped(AGAIN).await, (Ok("saved"), 3)));
    }

    #[tokio::test]
    async fn a_change_stopped_every_time_is_contended_after_its_last_try() {
        assert!(matches!(stopped(AGAIN + 1).await, (Err(StoreError::Contended), 3)));
    }

    #[tokio::test]
    async fn any_other_refusal_is_answered_at_once() {
        let made = Cell::new(0);
        let result: Result<(), StoreError> = retried(|| {
            made.set(made.get() + 1);
            async { Err(StoreError::Conflict { expected: 1, current: 2 }) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })));
        assert_eq!(made.get(), 1);
    }
}
