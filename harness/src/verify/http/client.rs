//! A small HTTP/1.1 client on hyper for the verifiers that speak HTTP (etcd's v2 and v3
//! gateways, metrics endpoints): one connection per request, bounded by a timeout.

use crate::cluster::Endpoint;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Requests that take longer than this fail.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// Response headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub async fn request(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
) -> Result<Response, String> {
    request_within(endpoint, method, path, body, REQUEST_TIMEOUT).await
}

/// [`request`] with its own bound (a long poll waits longer than a plain request).
pub async fn request_within(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
    limit: Duration,
) -> Result<Response, String> {
    let key = endpoint.address();
    crate::journal::track(&key, || format!("{method} {path}"), async {
        tokio::time::timeout(limit, send(endpoint, method, path, body))
            .await
            .map_err(|_| {
                format!(
                    "{method} {path} on {endpoint}: no answer within {}",
                    humantime::format_duration(limit)
                )
            })?
    })
    .await
}

async fn send(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
) -> Result<Response, String> {
    let what = |e: &dyn std::fmt::Display| format!("{method} {path} on {endpoint}: {e}");
    let stream = tokio::net::TcpStream::connect(endpoint.address())
        .await
        .map_err(|e| what(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| what(&e))?;
    let driver = tokio::spawn(conn);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", endpoint.address());
    let payload = match body {
        Some((content_type, text)) => {
            builder = builder.header("content-type", content_type);
            Bytes::from(text)
        }
        None => Bytes::new(),
    };
    let request = builder.body(Full::new(payload)).map_err(|e| what(&e))?;
    let response = sender.send_request(request).await.map_err(|e| what(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| what(&e))?
        .to_bytes();
    driver.abort();
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    })
}
