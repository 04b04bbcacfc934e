//! A permit held by a response until its body has been sent.
//!
//! A network graph of a large locality is megabytes of JSON. Limiting how many are resolved at once
//! is not enough to bound memory: finished bodies would still pile up waiting for clients that read
//! slowly. So the permit a resolver takes travels with the response ([`HeldUntilSent`], request data)
//! and the body is handed to the connection in slices ([`hold_until_sent`]): the permit is released
//! only when the last slice has been taken, by which point the rest is on its way to the client.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

/// The body goes to the connection this much at a time.
const SLICE: usize = 64 * 1024;

/// Where a resolver leaves a permit for the handler to attach to the response.
#[derive(Debug, Default)]
pub struct HeldUntilSent(Mutex<Option<OwnedSemaphorePermit>>);

impl HeldUntilSent {
    /// Keeps `permit` until the response is sent.
    pub fn hold(&self, permit: OwnedSemaphorePermit) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(permit);
    }

    /// The permit held, if a resolver left one.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

/// `response`, whose body now releases `permit` once it has all been taken by the connection.
pub async fn hold_until_sent(response: Response, permit: OwnedSemaphorePermit) -> Response {
    let (mut parts, body) = response.into_parts();
    // The body is a finished string: collecting it cannot fail and does not copy.
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::new(Sliced { rest: bytes, permit: Some(permit) }))
}

struct Sliced {
    rest: Bytes,
    permit: Option<OwnedSemaphorePermit>,
}

impl HttpBody for Sliced {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.rest.is_empty() {
            self.permit = None;
            return Poll::Ready(None);
        }
        let n = SLICE.min(self.rest.len());
        let slice = self.rest.split_to(n);
        if self.rest.is_empty() {
            self.permit = None;
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
