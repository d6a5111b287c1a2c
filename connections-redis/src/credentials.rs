//! The credentials a connection logs in with, as the stream the driver
//! subscribes to: each new session takes the current ones, and a live
//! session logs in again when they change, so a password rotated in the
//! secrets takes effect without a reconnect.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use redis::{BasicAuth, RedisResult, StreamingCredentialsProvider};
use tokio::sync::watch;

/// The current credentials, shared by the connection and the driver.
#[derive(Clone)]
pub(crate) struct Credentials(Arc<watch::Sender<BasicAuth>>);

impl Credentials {
    pub(crate) fn new(username: &str, password: &str) -> Self {
        Self(Arc::new(watch::Sender::new(BasicAuth::new(
            username.to_owned(),
            password.to_owned(),
        ))))
    }

    /// From now on, sessions log in with these, the live ones at once.
    pub(crate) fn rotate(&self, username: &str, password: &str) {
        self.0
            .send_replace(BasicAuth::new(username.to_owned(), password.to_owned()));
    }
}

impl StreamingCredentialsProvider for Credentials {
    /// The current credentials first, then each change.
    fn subscribe(&self) -> Pin<Box<dyn Stream<Item = RedisResult<BasicAuth>> + Send + 'static>> {
        let changes = self.0.subscribe();
        Box::pin(futures_util::stream::unfold(
            (changes, true),
            |(mut changes, first)| async move {
                if !first {
                    changes.changed().await.ok()?;
                }
                let current = changes.borrow_and_update().clone();
                Some((Ok(current), (changes, false)))
            },
        ))
    }
}
