//! The local server the doc examples send to, so that each runs as written
//! on any machine: HTTP/1.1 with keep-alive, enough for the examples and
//! nothing else. Not part of the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Starts the server on a free port; its base URL.
pub(crate) async fn start() -> String {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else {
        return "http://127.0.0.1:9/".to_owned();
    };
    let port = listener.local_addr().map_or(9, |a| a.port());
    let count = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&count)));
        }
    });
    format!("http://127.0.0.1:{port}/")
}

/// Answers the requests of one session until it closes.
async fn serve(stream: TcpStream, count: Arc<AtomicU64>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or_default().to_owned();
        let target = words.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if stream.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let length = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0_usize);
        let mut body = vec![0; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, json) = match path {
            "/echo" => (
                "200 OK",
                serde_json::json!({
                    "method": method,
                    "path": path,
                    "query": query,
                    "authorization": header("authorization"),
                    "api_key": header("x-api-key"),
                    "trace": header("x-trace"),
                    "body": String::from_utf8_lossy(&body),
                }),
            ),
            "/counter" => {
                if method == "POST" {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                ("200 OK", serde_json::json!({ "count": count.load(Ordering::SeqCst) }))
            }
            "/slow" => {
                // Never answers, and never closes: a server that fell silent.
                std::future::pending::<()>().await;
                return;
            }
            _ => ("404 Not Found", serde_json::json!({ "error": "no such page" })),
        };
        let body = json.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            if method == "HEAD" { 0 } else { body.len() }
        );
        let mut answer = head.into_bytes();
        if method != "HEAD" {
            answer.extend_from_slice(body.as_bytes());
        }
        if stream.get_mut().write_all(&answer).await.is_err() {
            return;
        }
    }
}
