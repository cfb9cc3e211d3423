//! A connection-level proxy in front of the fake GitHub, for the faults an HTTP mock cannot
//! produce: a connection reset (TCP RST), before the request reaches GitHub or after GitHub
//! processed it, and an answer trickled out one byte at a time. Every request is forwarded on its own upstream connection with
//! `Connection: close`, so the client opens a new connection for each request and a reset hits
//! exactly one of them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fake::{FaultKind, State};

/// How long a trickled answer keeps going at most (the client gives up long before).
const MAX_TRICKLE: std::time::Duration = std::time::Duration::from_secs(120);

/// Starts the proxy on a free loopback port, forwarding to `upstream`.
pub async fn start(upstream: SocketAddr, state: Arc<Mutex<State>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let address = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(handle(client, upstream, state.clone()));
        }
    });
    address
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts
        .next()
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let fault = state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take_connection_fault(&method, &path);
    if matches!(fault, Some(FaultKind::Reset)) {
        return rst(client);
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let forwarded: String = head
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect::<String>()
        .trim_end()
        .to_owned()
        + "\r\nconnection: close\r\n\r\n";
    if server.write_all(forwarded.as_bytes()).await.is_err()
        || server.write_all(&body).await.is_err()
    {
        return;
    }
    let mut response = Vec::new();
    if server.read_to_end(&mut response).await.is_err() {
        return;
    }
    match fault {
        Some(FaultKind::ApplyThenReset) => return rst(client),
        Some(FaultKind::Flood {
            bytes,
            declare_length,
        }) => return flood(client, bytes, declare_length, &state).await,
        Some(FaultKind::Trickle(every)) => {
            let started = std::time::Instant::now();
            for byte in response {
                if client.write_all(&[byte]).await.is_err() || started.elapsed() > MAX_TRICKLE {
                    return;
                }
                tokio::time::sleep(every).await;
            }
            return;
        }
        _ => {}
    }
    let _ = client.write_all(&response).await;
    let _ = client.shutdown().await;
}

/// Answers `200` with a JSON-looking body of `bytes` bytes, generated as it goes, until the
/// client stops reading; counts what it accepted in `State::flooded_bytes`.
async fn flood(mut client: TcpStream, bytes: u64, declare_length: bool, state: &Mutex<State>) {
    const CHUNK: usize = 64 * 1024;
    let framing = if declare_length {
        format!("content-length: {bytes}")
    } else {
        "transfer-encoding: chunked".to_owned()
    };
    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\n\r\n");
    if client.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut data = vec![b'a'; CHUNK];
    data[..12].copy_from_slice(b"{\"message\":\"");
    let mut sent = 0u64;
    while sent < bytes {
        let n = usize::try_from((bytes - sent).min(CHUNK as u64)).unwrap_or(CHUNK);
        let written = if declare_length {
            client.write_all(&data[..n]).await
        } else {
            let mut chunk = format!("{n:x}\r\n").into_bytes();
            chunk.extend_from_slice(&data[..n]);
            chunk.extend_from_slice(b"\r\n");
            client.write_all(&chunk).await
        };
        if written.is_err() {
            break;
        }
        sent += n as u64;
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flooded_bytes += n as u64;
        // Only the first chunk starts the JSON.
        data[..12].fill(b'a');
    }
    if !declare_length && sent >= bytes {
        let _ = client.write_all(b"0\r\n\r\n").await;
    }
    let _ = client.shutdown().await;
}

/// Reads one request head (up to the blank line) and its `content-length` body.
async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// Closes with a TCP RST instead of a FIN: SO_LINGER with a zero timeout.
fn rst(client: TcpStream) {
    // Deprecated because a non-zero linger blocks the runtime on close; zero never blocks.
    #[allow(deprecated)]
    let _ = client.set_linger(Some(std::time::Duration::ZERO));
    drop(client);
}
