//! A TCP relay that can fall silent, for the silent-network tests of every
//! first-party connection (SQL, Redis, HTTP).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A TCP relay in front of a server that can fall silent: while `silent` is
/// set it passes no byte either way and closes nothing, as a network
/// partition does; once cleared, what it held flows on. Counts the sessions
/// it accepted.
pub(crate) struct Relay {
    /// The port it listens on, at 127.0.0.1.
    pub(crate) port: u16,
    silent: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    pub(crate) async fn start(server: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let silent = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, a) = (Arc::clone(&silent), Arc::clone(&accepted));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let Ok(upstream) = tokio::net::TcpStream::connect(&server).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (upstream_read, upstream_write) = upstream.into_split();
                tokio::spawn(pump(client_read, upstream_write, Arc::clone(&s)));
                tokio::spawn(pump(upstream_read, client_write, Arc::clone(&s)));
            }
        });
        Relay { port, silent, accepted }
    }

    pub(crate) fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::SeqCst);
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to`, holding the bytes while the relay is silent.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let quiet = || async {
        while silent.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        quiet().await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        quiet().await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
