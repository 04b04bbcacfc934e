//! Group commit for the audit entry of a single read (`referral.read`, `offer.link_opened`, …).
//!
//! A read of a person's record answers only after its audit entry is committed. Written one read at a
//! time, each read pays a statement and a commit for one small row. Here one task writes the entries
//! of every read waiting at that moment in one statement and one commit, then tells each read, which
//! only then answers: the guarantee is unchanged, the statement and the commit are shared. A failed
//! write fails every read in its group.
//!
//! A caseload page's one listing entry is written by the page itself (`listing`): measured when a page
//! still wrote fifty rows, grouping pages into statements of hundreds of rows was slower than letting
//! each page write its own on its own connection (`docs/benchmarks.md`).

use std::sync::Mutex;

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, IntoActiveModel};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::entity::audit_log;

/// At most this many entries share one statement (nine parameters each, well inside both databases'
/// limits on bound parameters).
const MAX_GROUP: usize = 256;

/// An entry waiting to be written, and whom to tell.
struct Waiting {
    entry: audit_log::Model,
    written: oneshot::Sender<Result<(), String>>,
}

/// The handle the store keeps: a queue to the writing task, started on first use in the caller's
/// runtime (and again if that runtime has gone).
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Option<mpsc::UnboundedSender<Waiting>>>,
}

impl GroupCommit {
    /// Commits `entry` with whatever else is waiting; returns once it is committed.
    pub(crate) async fn write(&self, db: &DatabaseConnection, entry: audit_log::Model) -> Result<(), StoreError> {
        let (written, outcome) = oneshot::channel();
        self.enqueue(db, Waiting { entry, written });
        match outcome.await {
            Ok(result) => result.map_err(|e| StoreError::Database(DbErr::Custom(e))),
            Err(_) => Err(StoreError::Database(DbErr::Custom("the audit writer stopped".into()))),
        }
    }

    fn enqueue(&self, db: &DatabaseConnection, waiting: Waiting) {
        let mut queue = self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let waiting = match queue.as_ref() {
            Some(writer) => match writer.send(waiting) {
                Ok(()) => return,
                Err(mpsc::error::SendError(waiting)) => waiting,
            },
            None => waiting,
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(db.clone(), receiver));
        // The receiver is alive: it was made a line above and is only dropped when the task ends.
        let _ = sender.send(waiting);
        *queue = Some(sender);
    }
}

/// Writes group after group until every handle is gone; while one group is written, the next gathers.
async fn run(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Waiting>) {
    let mut head = queue.recv().await;
    while let Some(first) = head.take() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (entries, waiters): (Vec<_>, Vec<_>) =
            group.into_iter().map(|w| (w.entry.into_active_model(), w.written)).unzip();
        let result = audit_log::Entity::insert_many(entries)
            .exec_without_returning(&db)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        for written in waiters {
            // A read that gave up waiting (its request was dropped) no longer needs telling.
            let _ = written.send(result.clone());
        }
        head = queue.recv().await;
    }
}
