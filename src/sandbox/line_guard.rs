//! A guard between each connection and the HTTP parser that refuses an over-long request line
//! in the format of the cloud its path belongs to. The parser underneath (hyper, through
//! axum) refuses a request target past 64 KiB itself, with an empty 414 the sandbox never
//! sees; the clouds answer such a request in their own error format like any other. So the
//! guard reads the request line as it streams in, and once it passes [`MAX_LINE_BYTES`] it
//! withholds the rest from the parser, writes the cloud's 414 ([`transport::answer`]) itself
//! and closes the connection. Lines up to that length reach the parser, and `server.rs`
//! answers targets past [`transport::MAX_URI_BYTES`] the same way.
//!
//! The guard knows where a request line starts without parsing HTTP: at the start of the
//! connection, and after the server begins a final (non-1xx) response, since the clients it
//! serves do not pipeline. Only the first bytes of a line are kept (enough for the path).

use super::transport::{self, Failure};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The longest request line passed to the parser: a target of [`transport::MAX_URI_BYTES`]
/// with room for the method and the version.
pub const MAX_LINE_BYTES: usize = transport::MAX_URI_BYTES + 1024;

/// How much of a line is kept to find its path.
const HEAD_BYTES: usize = 2048;

/// A connection whose request lines are bounded.
pub struct LineGuard<S> {
    inner: S,
    /// Reading a request line (true at the start and after each final response begins).
    in_line: bool,
    line_len: usize,
    head: Vec<u8>,
    refusal: Option<Refusal>,
}

/// The 414 being written, then the connection shut and the client's remaining bytes dropped.
struct Refusal {
    bytes: Vec<u8>,
    written: usize,
    shut: bool,
    drained: usize,
}

/// How much of a refused client's request is read and dropped before closing anyway.
const MAX_DRAIN_BYTES: usize = 8 * 1024 * 1024;

impl<S> LineGuard<S> {
    pub fn new(inner: S) -> LineGuard<S> {
        LineGuard {
            inner,
            in_line: true,
            line_len: 0,
            head: Vec::new(),
            refusal: None,
        }
    }

    /// Notes `bytes` read from the client; true when the line being read is over the limit.
    fn note(&mut self, mut bytes: &[u8]) -> bool {
        while self.in_line && !bytes.is_empty() {
            let (part, rest, ends) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            self.line_len += part.len();
            let room = HEAD_BYTES.saturating_sub(self.head.len());
            self.head.extend_from_slice(&part[..part.len().min(room)]);
            if self.line_len > MAX_LINE_BYTES {
                return true;
            }
            if ends {
                // Empty lines before a request line are allowed (RFC 9112 §2.2): skip them.
                if self.head.iter().all(|b| *b == b'\r') {
                    self.line_len = 0;
                    self.head.clear();
                } else {
                    self.in_line = false;
                }
            }
            bytes = rest;
        }
        false
    }

    /// Notes bytes the server writes: a final response starts a new request line after it.
    fn wrote(&mut self, first: &[u8]) {
        if let Some(rest) = first.strip_prefix(b"HTTP/") {
            let status = rest.iter().position(|b| *b == b' ').map(|i| &rest[i + 1..]);
            if status.is_some_and(|s| s.first() != Some(&b'1')) {
                self.in_line = true;
                self.line_len = 0;
                self.head.clear();
            }
        }
    }

    /// The path of the line read so far (the EC2 root when it shows none).
    fn path(&self) -> String {
        let text = String::from_utf8_lossy(&self.head);
        let target = text.split(' ').nth(1).unwrap_or("/");
        target.split('?').next().unwrap_or("/").to_string()
    }
}

/// `response` as HTTP/1.1 bytes, closing the connection.
fn serialise(response: &super::http::Response) -> Vec<u8> {
    let reason = match response.status {
        414 => "URI Too Long",
        _ => "Error",
    };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", response.status).into_bytes();
    for (k, v) in &response.headers {
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            response.body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&response.body);
    out
}

impl<S: AsyncRead + AsyncWrite + Unpin> LineGuard<S> {
    /// Writes the refusal, shuts the connection, then reads as end of stream.
    fn refuse(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(r) = self.refusal.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while r.written < r.bytes.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &r.bytes[r.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            r.written += n;
        }
        if !r.shut {
            ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            let _ = ready!(Pin::new(&mut self.inner).poll_shutdown(cx));
            r.shut = true;
        }
        // The client may still be sending the line. Closing with its bytes unread would reset
        // the connection and could destroy the answer before the client reads it, so the rest
        // is read and dropped (up to a bound) until the client closes its side.
        let mut scratch = [0u8; 8192];
        loop {
            let mut b = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut self.inner).poll_read(cx, &mut b)) {
                Ok(()) if !b.filled().is_empty() && r.drained < MAX_DRAIN_BYTES => {
                    r.drained += b.filled().len();
                }
                _ => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for LineGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            return this.refuse(cx);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if this.in_line && this.note(&buf.filled()[before..]) {
            // The parser never sees the over-long line: it reads the end of the stream.
            buf.set_filled(before);
            let answer = transport::answer(&this.path(), &Failure::UriTooLong);
            this.refusal = Some(Refusal {
                bytes: serialise(&answer),
                written: 0,
                shut: false,
                drained: 0,
            });
            return this.refuse(cx);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LineGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            // Refused: nothing else goes out.
            return Poll::Ready(Ok(data.len()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        this.wrote(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
                this.wrote(&first[..first.len().min(n)]);
            }
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Feeds `input` through a guard (the server side of a duplex pipe) and returns what the
    /// guard let through to the parser and what the client received.
    async fn through(input: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut guard = LineGuard::new(server);
        let send = tokio::spawn(async move {
            let _ = client.write_all(&input).await;
            let _ = client.shutdown().await;
            let mut got = Vec::new();
            let _ = client.read_to_end(&mut got).await;
            got
        });
        let mut passed = Vec::new();
        let _ = guard.read_to_end(&mut passed).await;
        drop(guard);
        (passed, send.await.unwrap())
    }

    #[tokio::test]
    async fn a_line_within_the_limit_passes_untouched() {
        let req = format!(
            "\r\nGET /compute/v1/projects/p?x={} HTTP/1.1\r\nhost: h\r\n\r\n",
            "a".repeat(MAX_LINE_BYTES - 100)
        )
        .into_bytes();
        let (passed, answered) = through(req.clone()).await;
        assert_eq!(passed, req);
        assert!(answered.is_empty());
    }

    #[tokio::test]
    async fn an_over_long_line_is_withheld_and_answered_in_its_clouds_format() {
        for (path, code) in [
            ("/compute/v1/projects/p/global/networks", "414"),
            ("/subscriptions/s/providers/x", "RequestUriTooLong"),
            ("/", "RequestURITooLong"),
        ] {
            let req = format!("GET {path}?q={} HTTP/1.1\r\n", "a".repeat(200_000)).into_bytes();
            let (passed, answered) = through(req).await;
            assert!(passed.len() <= MAX_LINE_BYTES, "{}", passed.len());
            let text = String::from_utf8_lossy(&answered);
            assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{text}");
            assert!(text.contains("connection: close"), "{text}");
            assert!(text.contains(code), "{path}: {text}");
        }
    }

    #[test]
    fn a_final_response_starts_a_new_line_and_an_interim_one_does_not() {
        let mut g = LineGuard::new(());
        assert!(!g.note(b"POST / HTTP/1.1\r\n"));
        assert!(!g.in_line);
        g.wrote(b"HTTP/1.1 100 Continue\r\n\r\n");
        assert!(!g.in_line, "a body after 100-continue is no request line");
        g.wrote(b"HTTP/1.1 200 OK\r\n");
        assert!(g.in_line);
        assert!(g.note(&vec![b'a'; MAX_LINE_BYTES + 1]));
    }
}
