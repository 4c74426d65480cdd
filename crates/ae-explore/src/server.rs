//! The HTTP side: a fixed set of embedded assets and a read-only JSON API over an
//! [`Explorer`], answered one request at a time.
//!
//! | path | answer |
//! |---|---|
//! | `/`, `/app.js`, `/style.css` | the page (embedded in the binary) |
//! | `/api/info` | [`Info`](crate::Info) |
//! | `/api/map` | every item's position and label |
//! | `/api/item?index=I` | an item: values, code, reconstruction, position, score |
//! | `/api/decode?code=Z1,Z2,…` | the decoding of a code |
//! | `/api/encode?index=I` or `?values=V1,V2,…` | the code and position of an item |
//! | `/api/plane?x=X&y=Y` | the code under a point of the map and its decoding |
//! | `/api/interpolate?from=I&to=J&steps=N&spherical=0\|1` | decodings between two items |
//! | `/api/attribute?from=A&to=B` | mean code of label B minus that of label A |
//! | `/api/anomalies?count=N` | the N highest scores' items, and every score |
//! | `/api/sample?source=prior\|gmm&count=N&seed=S` | decoded samples |
//!
//! Only `GET` and `HEAD` are answered (405 otherwise); any other path is a 404; a bad argument
//! is a 400 with a message, and a request that panics is answered 500 without stopping the
//! server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{ExploreError, Result};
use crate::explorer::Explorer;

/// The page's files: path, content type, contents.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../assets/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../assets/style.css"),
    ),
];

/// An answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    fn json(value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self {
                status: 200,
                content_type: "application/json",
                body,
            },
            Err(e) => Self::error(500, &format!("cannot write the answer: {e}")),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: serde_json::json!({ "error": message })
                .to_string()
                .into_bytes(),
        }
    }

    fn from_error(e: &ExploreError) -> Self {
        let status = match e {
            ExploreError::BadRequest(_) | ExploreError::Setting(_) => 400,
            ExploreError::Unavailable(_) => 422,
            _ => 500,
        };
        Self::error(status, &e.to_string())
    }
}

/// Decodes `%XX` escapes and `+` (a space) of a query component.
pub fn percent_decode(text: &str) -> std::result::Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad escape in {text:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8"))
}

/// A request's query arguments.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(query: &str) -> Result<Self> {
        let mut map = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key).map_err(ExploreError::BadRequest)?;
            let value = percent_decode(value).map_err(ExploreError::BadRequest)?;
            map.insert(key, value);
        }
        Ok(Self(map))
    }

    fn text(&self, name: &str) -> Result<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ExploreError::BadRequest(format!("the argument {name} is missing")))
    }

    fn parsed<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<T> {
        let text = self.text(name)?;
        text.trim()
            .parse()
            .map_err(|_| ExploreError::BadRequest(format!("{name} must be {what}, not {text:?}")))
    }

    fn parsed_or<T: std::str::FromStr>(&self, name: &str, what: &str, default: T) -> Result<T> {
        if self.0.contains_key(name) {
            self.parsed(name, what)
        } else {
            Ok(default)
        }
    }

    fn number(&self, name: &str) -> Result<f64> {
        let value: f64 = self.parsed(name, "a number")?;
        if !value.is_finite() {
            return Err(ExploreError::BadRequest(format!(
                "{name} must be a finite number"
            )));
        }
        Ok(value)
    }

    fn numbers(&self, name: &str) -> Result<Vec<f32>> {
        parse_numbers(name, self.text(name)?)
    }

    fn flag(&self, name: &str) -> Result<bool> {
        match self.0.get(name).map(String::as_str) {
            None | Some("0" | "false" | "") => Ok(false),
            Some("1" | "true") => Ok(true),
            Some(other) => Err(ExploreError::BadRequest(format!(
                "{name} must be 0 or 1, not {other:?}"
            ))),
        }
    }
}

/// Comma-separated finite numbers.
pub fn parse_numbers(name: &str, text: &str) -> Result<Vec<f32>> {
    if text.trim().is_empty() {
        return Err(ExploreError::BadRequest(format!("{name} is empty")));
    }
    text.split(',')
        .enumerate()
        .map(|(i, part)| {
            let value: f32 = part.trim().parse().map_err(|_| {
                ExploreError::BadRequest(format!("{name} value {i} is not a number: {part:?}"))
            })?;
            if value.is_finite() {
                Ok(value)
            } else {
                Err(ExploreError::BadRequest(format!(
                    "{name} value {i} is not a finite number: {part:?}"
                )))
            }
        })
        .collect()
}

/// The answer to `method url`.
pub fn respond<B: Backend>(explorer: &Explorer<B>, method: &str, url: &str) -> Reply {
    if method != "GET" && method != "HEAD" {
        return Reply::error(
            405,
            &format!("{method} is not served: the explorer is read-only"),
        );
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if let Some(&(_, content_type, body)) = ASSETS.iter().find(|(p, _, _)| *p == path) {
        return Reply {
            status: 200,
            content_type,
            body: body.as_bytes().to_vec(),
        };
    }
    let Some(endpoint) = path.strip_prefix("/api/") else {
        return Reply::error(404, &format!("there is no page {path:?}"));
    };
    let answer = Query::parse(query).and_then(|q| api(explorer, endpoint, &q));
    match answer {
        Ok(reply) => reply,
        Err(e) => Reply::from_error(&e),
    }
}

fn api<B: Backend>(explorer: &Explorer<B>, endpoint: &str, q: &Query) -> Result<Reply> {
    let index = |name: &str| q.parsed::<usize>(name, "an item index (0, 1, 2, …)");
    Ok(match endpoint {
        "info" => Reply::json(&explorer.info()),
        "map" => Reply::json(&explorer.map()),
        "item" => Reply::json(&explorer.item(index("index")?)?),
        "decode" => Reply::json(&explorer.decode(&q.numbers("code")?)?),
        "encode" => {
            if q.0.contains_key("values") {
                Reply::json(&explorer.encode_values(&q.numbers("values")?)?)
            } else {
                Reply::json(&explorer.encoded(index("index")?)?)
            }
        }
        "plane" => Reply::json(&explorer.plane(q.number("x")?, q.number("y")?)?),
        "interpolate" => Reply::json(&explorer.interpolate(
            index("from")?,
            index("to")?,
            q.parsed_or("steps", "a whole number", 8)?,
            q.flag("spherical")?,
        )?),
        "attribute" => Reply::json(&explorer.attribute(
            q.parsed("from", "a class id")?,
            q.parsed("to", "a class id")?,
        )?),
        "anomalies" => {
            Reply::json(&explorer.anomalies(q.parsed_or("count", "a whole number", 12)?)?)
        }
        "sample" => Reply::json(&explorer.sample(
            q.text("source")?,
            q.parsed_or("count", "a whole number", 8)?,
            q.parsed_or("seed", "a whole number", 0)?,
        )?),
        other => {
            return Ok(Reply::error(
                404,
                &format!("there is no API endpoint {other:?}"),
            ));
        }
    })
}

/// Whether a request naming `host` may be answered by a server listening on `addr`: on a
/// loopback address only requests addressed to this machine by name or number are (a page of
/// another site that renames itself to 127.0.0.1 through its DNS, to read the explorer, is not).
pub fn host_allowed(host: Option<&str>, addr: SocketAddr) -> bool {
    if !addr.ip().is_loopback() {
        return true;
    }
    let Some(host) = host else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]"
    ) || name
        .parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A listening explorer server.
pub struct Server {
    http: tiny_http::Server,
    addr: SocketAddr,
}

impl Server {
    /// Listens on `host:port` (port 0: any free port).
    pub fn bind(host: &str, port: u16) -> Result<Self> {
        let http = tiny_http::Server::http((host, port))
            .map_err(|e| ExploreError::Server(format!("cannot listen on {host}:{port}: {e}")))?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| ExploreError::Server("the server has no IP address".into()))?;
        Ok(Self { http, addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Answers requests until the process ends (one at a time; a closed connection is
    /// ignored).
    pub fn run<B: Backend>(&self, explorer: &Explorer<B>) {
        for request in self.http.incoming_requests() {
            let method = request.method().as_str().to_string();
            let url = request.url().to_string();
            let host = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Host"))
                .map(|h| h.value.as_str().to_string());
            let reply = if host_allowed(host.as_deref(), self.addr) {
                catch_unwind(AssertUnwindSafe(|| respond(explorer, &method, &url)))
                    .unwrap_or_else(|_| Reply::error(500, "the request failed inside the explorer"))
            } else {
                Reply::error(
                    403,
                    "this explorer answers only requests addressed to the machine it runs on",
                )
            };
            // Always a Content-Length, never chunked: every answer is whole in memory.
            let mut response = tiny_http::Response::from_data(reply.body)
                .with_status_code(reply.status)
                .with_chunked_threshold(usize::MAX);
            for (name, value) in [
                ("Content-Type", reply.content_type),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ] {
                if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                    response.add_header(header);
                }
            }
            // The page may have gone away: nothing to do about a failed write.
            let _ = request.respond(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(percent_decode("0.5%2C-1.25+x").unwrap(), "0.5,-1.25 x");
        assert!(percent_decode("%2").is_err());
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%ff").is_err());
        let q = Query::parse("code=1%2C2&x=3&empty").unwrap();
        assert_eq!(q.numbers("code").unwrap(), vec![1.0, 2.0]);
        assert_eq!(q.number("x").unwrap(), 3.0);
        assert!(!q.flag("empty").unwrap());
        assert!(
            q.text("missing")
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(
            parse_numbers("code", " 1, -2.5,3e-1").unwrap(),
            vec![1.0, -2.5, 0.3]
        );
        for bad in ["1,NaN", "inf", "1,,2", "", "1,x"] {
            let e = parse_numbers("code", bad).unwrap_err();
            assert!(matches!(e, ExploreError::BadRequest(_)), "{bad}: {e}");
        }
        let q = Query::parse("x=NaN&y=inf&s=2").unwrap();
        assert!(q.number("x").is_err());
        assert!(q.number("y").is_err());
        assert!(q.flag("s").is_err());
    }

    #[test]
    fn a_loopback_server_answers_only_requests_for_this_machine() {
        let local: SocketAddr = "127.0.0.1:8765".parse().unwrap();
        for host in [
            "127.0.0.1:8765",
            "localhost:8765",
            "LOCALHOST",
            "[::1]:8765",
            "127.0.0.2",
        ] {
            assert!(host_allowed(Some(host), local), "{host}");
        }
        for host in ["evil.example:8765", "evil.example", "10.0.0.1:8765", ""] {
            assert!(!host_allowed(Some(host), local), "{host}");
        }
        assert!(!host_allowed(None, local));
        // Listening on every interface was asked for: any name is served.
        let open: SocketAddr = "0.0.0.0:8765".parse().unwrap();
        assert!(host_allowed(Some("machine.lan:8765"), open));
    }

    #[test]
    fn only_the_embedded_assets_are_pages() {
        let paths: Vec<&str> = ASSETS.iter().map(|(p, _, _)| *p).collect();
        assert_eq!(paths, ["/", "/app.js", "/style.css"]);
        for (_, _, body) in ASSETS {
            assert!(!body.is_empty());
        }
        // The page loads its script and style from the paths served.
        let (_, _, html) = ASSETS[0];
        assert!(html.contains("/app.js") && html.contains("/style.css"));
    }
}
