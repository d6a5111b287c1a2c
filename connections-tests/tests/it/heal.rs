//! Connections that heal: a derived connection to a TCP server that
//! restarts. A failed `_check` resets it, so the first request after the
//! restart reconnects and succeeds; `reset_if_broken` does the same inside
//! a call; a type that heals itself opts out with `check_resets = false`.

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use connections::prelude::*;
use connections::{ConnectionState, Registry};

use crate::common::LogCapture;

/// A line server: answers `PING` with `PONG` and any other line with the
/// server's boot number and the line. It can be stopped, which closes every
/// session as a restart does, and started again on the same port.
struct LineServer {
    port: u16,
    boot: u32,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    acceptor: JoinHandle<()>,
    sessions: Arc<Mutex<Vec<TcpStream>>>,
}

impl LineServer {
    fn start() -> Self {
        let mut server = Self {
            port: 0,
            boot: 0,
            running: None,
        };
        server.up();
        server
    }

    /// Listens on the server's port (any free one, the first time).
    fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.port = listener.local_addr().unwrap().port();
        self.boot += 1;
        let boot = self.boot;
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let acceptor = std::thread::spawn({
            let (stop, sessions) = (Arc::clone(&stop), Arc::clone(&sessions));
            move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false).unwrap();
                            sessions
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(stream.try_clone().unwrap());
                            std::thread::spawn(move || serve(stream, boot));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => panic!("accept failed: {e}"),
                    }
                }
            }
        });
        self.running = Some(Running {
            stop,
            acceptor,
            sessions,
        });
    }

    /// Stops listening and closes every session.
    fn down(&mut self) {
        let running = self.running.take().expect("the server is running");
        running.stop.store(true, Ordering::SeqCst);
        running.acceptor.join().unwrap();
        for session in running
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = session.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restart(&mut self) {
        self.down();
        self.up();
    }

    fn secrets(&self, name: &str, type_name: &str) -> String {
        format!(
            "[connections.{name}]\ntype = '{type_name}'\naddr = '127.0.0.1:{}'\n",
            self.port
        )
    }
}

impl Drop for LineServer {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.down();
        }
    }
}

fn serve(stream: TcpStream, boot: u32) {
    let mut writer = stream.try_clone().unwrap();
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let reply = if line == "PING" {
            "PONG".to_owned()
        } else {
            format!("{boot} {line}")
        };
        if writeln!(writer, "{reply}").is_err() {
            return;
        }
    }
}

/// A session with a line server.
struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

fn open(config: &Config) -> Result<Mutex<Session>, BoxError> {
    let addr: String = config.get("addr")?;
    let writer = TcpStream::connect(&addr)?;
    writer.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(Mutex::new(Session {
        reader: BufReader::new(writer.try_clone()?),
        writer,
    }))
}

fn exchange(session: &Mutex<Session>, line: &str) -> io::Result<String> {
    let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
    writeln!(session.writer, "{line}")?;
    let mut reply = String::new();
    if session.reader.read_line(&mut reply)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(reply.trim_end().to_owned())
}

/// What a closed or reset session looks like.
fn broken(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// The user's connection type: resets on a failed check (the default), and
/// on a broken session inside `call`.
#[derive(Connection)]
#[connection(type_name = "heal-line")]
struct Line {
    base: BaseConnection<Mutex<Session>>,
}

impl Line {
    fn _connect(&self, config: &Config) -> Result<Mutex<Session>, BoxError> {
        open(config)
    }

    fn _check(&self) -> Result<(), BoxError> {
        let session = self.instance()?;
        exchange(&session, "PING")?;
        Ok(())
    }

    /// A call that does not reset by itself: only the check heals it.
    fn call(&self, line: &str) -> Result<String, BoxError> {
        let session = self.instance()?;
        Ok(exchange(&session, line)?)
    }

    /// A call that resets when it finds the session broken.
    fn call_healing(&self, line: &str) -> Result<String, BoxError> {
        let session = self.instance()?;
        let result = exchange(&session, line);
        Ok(self.reset_if_broken(&session, result, broken)?)
    }
}

/// A type whose client heals itself: a failed check leaves it alone.
#[derive(Connection)]
#[connection(type_name = "heal-line-self", check_resets = false)]
struct SelfHealing {
    base: BaseConnection<Mutex<Session>>,
}

impl SelfHealing {
    fn _connect(&self, config: &Config) -> Result<Mutex<Session>, BoxError> {
        open(config)
    }

    fn _check(&self) -> Result<(), BoxError> {
        exchange(&*self.instance()?, "PING")?;
        Ok(())
    }
}

fn check(registry: &Registry) -> Vec<connections::CheckOutcome> {
    futures_executor::block_on(registry.check())
}

#[test]
fn a_failed_check_resets_and_the_first_request_after_a_restart_succeeds() {
    let mut server = LineServer::start();
    let registry = Registry::builder()
        .secrets_toml("heal.toml", server.secrets("line", "heal-line"))
        .build();
    let line = registry.connection::<Line>("line").unwrap();
    assert_eq!(line.call("hello").unwrap(), "1 hello");
    assert!(check(&registry)[0].ok);

    server.restart();
    // The probe finds the old session dead, and resets it.
    let capture = LogCapture::default();
    let guard = capture.set_default();
    tracing::callsite::rebuild_interest_cache();
    let checks = check(&registry);
    drop(guard);
    assert!(!checks[0].ok && checks[0].reset, "{checks:?}");
    assert!(!line.is_connected());
    let logs = capture.text();
    assert!(logs.contains("reason=\"check\"") && logs.contains("reset"), "{logs}");
    // The first request after the restart reconnects, and succeeds.
    assert_eq!(line.call("after the restart").unwrap(), "2 after the restart");
    let checks = check(&registry);
    assert!(checks[0].ok && !checks[0].reset, "{checks:?}");
    let health = registry.health();
    assert_eq!((health[0].connects, health[0].resets), (2, 1), "{health:?}");
}

#[test]
fn a_server_down_for_a_while_fails_checks_until_it_is_back() {
    let mut server = LineServer::start();
    let registry = Registry::builder()
        .secrets_toml("heal.toml", server.secrets("line", "heal-line"))
        .build();
    let line = registry.connection::<Line>("line").unwrap();
    assert_eq!(line.call("hello").unwrap(), "1 hello");

    server.down();
    let first = check(&registry);
    assert!(!first[0].ok && first[0].reset, "the dead session is reset: {first:?}");
    // Nothing to reset while the server is down: each check tries to connect.
    let second = check(&registry);
    assert!(!second[0].ok && !second[0].reset, "{second:?}");
    assert!(second[0].error.as_deref().unwrap().contains("refused"), "{second:?}");
    assert_eq!(registry.health()[0].state, ConnectionState::Failing);

    server.up();
    assert_eq!(line.call("back").unwrap(), "2 back");
    assert!(check(&registry)[0].ok);
}

#[test]
fn reset_if_broken_heals_a_connection_from_inside_its_calls() {
    let mut server = LineServer::start();
    let registry = Registry::builder()
        .secrets_toml("heal.toml", server.secrets("line", "heal-line"))
        .build();
    let line = registry.connection::<Line>("line").unwrap();
    assert_eq!(line.call_healing("hello").unwrap(), "1 hello");

    server.restart();
    // The call that finds the session broken fails, and resets it ...
    let err = line.call_healing("lost").unwrap_err();
    assert!(broken(err.downcast_ref::<io::Error>().unwrap()), "{err}");
    assert!(!line.is_connected());
    // ... so the next one reconnects.
    assert_eq!(line.call_healing("next").unwrap(), "2 next");
    // Another error is not a broken session: nothing is reset.
    let session = line.instance().unwrap();
    let other: Result<(), io::Error> = Err(io::ErrorKind::InvalidData.into());
    assert!(line.reset_if_broken(&session, other, broken).is_err());
    assert!(line.is_connected());
}

#[test]
fn a_type_that_heals_itself_opts_out_of_the_reset() {
    let mut server = LineServer::start();
    let registry = Registry::builder()
        .secrets_toml("heal.toml", server.secrets("own", "heal-line-self"))
        .build();
    let own = registry.connection::<SelfHealing>("own").unwrap();
    let before = own.instance().unwrap();
    server.restart();
    let checks = check(&registry);
    assert!(!checks[0].ok && !checks[0].reset, "{checks:?}");
    assert!(own.is_connected(), "check_resets = false leaves the instance alone");
    assert!(Arc::ptr_eq(&before, &own.instance().unwrap()));
}
