//! A network graph's turn, held by its response until the body has been sent.
//!
//! A network graph of a large locality is tens of megabytes while async-graphql turns it into a value
//! tree and then JSON. Releasing the turn when the resolver returns would let the next graph be built
//! while this one is still being serialised and sent. So the turn is the request's
//! ([`HeldUntilSent`], request data: every `network` field of one request shares it, so two of them
//! cannot wait on each other) and travels with the response, whose body is handed to the connection
//! in slices ([`hold_until_sent`]): the turn is released only when the last slice has been taken, by
//! which point the rest is on its way to the client.
//!
//! A client that asks for a graph and never reads the answer stops the connection from taking slices
//! once the socket's buffers are full. So the turn is not held by the body itself but by a task that
//! lets it go when the body is done or dropped, or when the send timeout has passed, whichever comes
//! first: a stalled reader delays the next graph by at most that timeout. (Its response stays with its
//! connection until the client goes away or reads it; only the turn is taken back.)

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::sync::{OnceCell, oneshot};

use super::cache::Turn;

/// The body goes to the connection this much at a time.
const SLICE: usize = 64 * 1024;

/// The request's turn, taken by its first `network` field and kept until the response is sent.
#[derive(Debug, Default)]
pub struct HeldUntilSent(OnceCell<Turn>);

impl HeldUntilSent {
    /// Waits for the request's turn: takes it with `take` the first time, shares it after.
    pub async fn hold(&self, take: impl Future<Output = Turn>) {
        self.0.get_or_init(|| take).await;
    }

    /// The turn held, once the request has been executed and nothing else refers to it.
    pub fn into_turn(held: std::sync::Arc<Self>) -> Option<Turn> {
        std::sync::Arc::into_inner(held).and_then(|held| held.0.into_inner())
    }
}

/// `response`, whose body releases `turn` once it has all been taken by the connection, or once
/// `timeout` has passed if the client is not reading it.
pub async fn hold_until_sent(response: Response, turn: Turn, timeout: Duration) -> Response {
    let (mut parts, body) = response.into_parts();
    // The body is a finished string: collecting it cannot fail and does not copy.
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let (sent, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _turn = turn;
        // Either the body is done (its sender is dropped) or the client is too slow.
        if tokio::time::timeout(timeout, released).await.is_err() {
            tracing::warn!(
                timeout_secs = timeout.as_secs(),
                "a network graph's client did not read it in time; the next graph goes ahead"
            );
        }
    });
    Response::from_parts(parts, Body::new(Sliced { rest: bytes, turn: Some(sent) }))
}

struct Sliced {
    rest: Bytes,
    /// Dropped when the last slice has been taken, which lets the turn go.
    turn: Option<oneshot::Sender<()>>,
}

impl HttpBody for Sliced {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.rest.is_empty() {
            self.turn = None;
            return Poll::Ready(None);
        }
        let n = SLICE.min(self.rest.len());
        let slice = self.rest.split_to(n);
        if self.rest.is_empty() {
            self.turn = None;
        }
        Poll::Ready(Some(Ok(Frame::data(slice))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}
