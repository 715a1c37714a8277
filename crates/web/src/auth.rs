//! Who is asking: the session token of a request (Bearer token for API clients, HttpOnly cookie for
//! browsers with a same-origin check on unsafe methods), turned into the service's `Caller`.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
pub use qoljetim_service::{Caller, SystemCaller};
use qoljetim_service::{Problem, Reader, SYSTEM_TOKEN_PREFIX, SessionToken};

use crate::AppState;
use crate::problem::ApiError;

pub const SESSION_COOKIE: &str = "qoljetim_session";

/// The header that marks a request a page makes by itself (DESIGN.md §5).
pub const BACKGROUND_HEADER: &str = "x-qoljetim-background";

/// The client's address as `resolve_client` found it (the peer, or the client a trusted proxy names).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The address ranges of the reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are
/// believed (`trusted_proxies`); empty: none, the peer is the client.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses `["10.0.0.5", "10.1.0.0/16"]`; a bad entry names itself.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                e.parse::<ipnet::IpNet>()
                    .or_else(|_| e.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {e:?} is not an address or a range"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: &std::net::IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a request from `peer`: when `peer` is a trusted proxy, the right-most address
    /// of the forwarding chain that is not itself a trusted proxy (a client can write anything on the
    /// left; only what trusted hops appended is believed); otherwise `peer`.
    pub fn client(
        &self,
        peer: std::net::IpAddr,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let mut chain: Vec<std::net::IpAddr> = vec![];
        for v in headers
            .get_all(header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for element in v.split(',') {
                for pair in element.split(';') {
                    if let Some((k, val)) = pair.trim().split_once('=')
                        && k.trim().eq_ignore_ascii_case("for")
                    {
                        let val = val.trim().trim_matches('"');
                        let host = val
                            .strip_prefix('[')
                            .and_then(|r| r.split_once(']').map(|(h, _)| h))
                            .unwrap_or_else(|| {
                                val.rsplit_once(':')
                                    .filter(|(h, _)| !h.contains(':'))
                                    .map_or(val, |(h, _)| h)
                            });
                        if let Ok(ip) = host.parse() {
                            chain.push(ip);
                        }
                    }
                }
            }
        }
        if chain.is_empty() {
            for v in headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
            {
                chain.extend(
                    v.split(',')
                        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok()),
                );
            }
        }
        chain
            .into_iter()
            .rev()
            .find(|ip| !self.trusts(ip))
            .unwrap_or(peer)
    }
}

/// Middleware: finds the client's address once per request (for the audit record and rate limits).
pub async fn resolve_client(
    axum::extract::State(proxies): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let client = proxies.client(peer, req.headers());
    req.extensions_mut().insert(ClientAddr(client));
    next.run(req).await
}

/// The client address of a request, for rate limits.
pub fn client_addr<B>(req: &axum::http::Request<B>) -> std::net::IpAddr {
    req.extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// The client address, for the audit chain.
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ClientAddr>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The value of the request's cookie `name`.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_of(&parts.headers, name)
}

/// The value of the cookie `name` among `headers`.
pub fn cookie_of(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

fn cookie_token(parts: &Parts) -> Option<String> {
    cookie(parts, SESSION_COOKIE)
}

/// The `Authorization: Bearer` token of a request.
pub fn bearer_token(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// Whether the request's `Origin` is this site: the same scheme (https when the site is served over
/// TLS, as `cookie_secure` says), host and port as the request's `Host`.
pub fn same_origin(parts: &Parts, state: &AppState) -> bool {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(h), Some(o)) => o.eq_ignore_ascii_case(&format!("{}://{h}", scheme(state))),
        _ => false,
    }
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let (token, from_cookie) = match (bearer_token(parts), cookie_token(parts)) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (t, true),
        (None, None) => return Ok(None),
    };
    if from_cookie
        && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !same_origin(parts, state)
    {
        return Err(ApiError::new(Problem::OriginMismatch));
    }
    // Issue 18: an information system's token opens the data routes only.
    if token.starts_with(SYSTEM_TOKEN_PREFIX) {
        return Err(ApiError::new(Problem::PersonTokenRequired));
    }
    Ok(Some(state.authenticate(session_token(parts, token)).await?))
}

fn session_token(parts: &Parts, token: String) -> SessionToken {
    SessionToken {
        token,
        ip: client_ip(parts),
        background: parts
            .headers
            .get(BACKGROUND_HEADER)
            .is_some_and(|v| v.as_bytes() == b"1"),
    }
}

/// Issue 18: an organization's information system, by its bearer token (never a cookie); a person's
/// session here is `system-token-required`.
impl FromRequestParts<AppState> for SystemCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer_token(parts) {
            Some(t) if t.starts_with(SYSTEM_TOKEN_PREFIX) => {
                Ok(state.authenticate_system(session_token(parts, t)).await?)
            }
            Some(_) => Err(ApiError::new(Problem::SystemTokenRequired)),
            None if cookie_token(parts).is_some() => {
                Err(ApiError::new(Problem::SystemTokenRequired))
            }
            None => Err(ApiError::new(Problem::NotSignedIn)),
        }
    }
}

/// Who reads budget data: a signed-in person (session cookie or bearer token) or an organization's
/// information system (its bearer token; issue 18).
pub enum DataReader {
    Person(Caller),
    System(SystemCaller),
}

impl DataReader {
    pub fn reader(&self) -> Reader<'_> {
        match self {
            DataReader::Person(c) => Reader::Person(c),
            DataReader::System(s) => Reader::System(s),
        }
    }
}

impl FromRequestParts<AppState> for DataReader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match bearer_token(parts) {
            Some(t) if t.starts_with(SYSTEM_TOKEN_PREFIX) => Ok(DataReader::System(
                state.authenticate_system(session_token(parts, t)).await?,
            )),
            _ => Ok(DataReader::Person(
                Caller::from_request_parts(parts, state).await?,
            )),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        resolve(parts, state)
            .await?
            .ok_or_else(|| ApiError::new(Problem::NotSignedIn))
    }
}

/// A caller who may or may not be signed in (submission: the signature authenticates).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeCaller(resolve(parts, state).await?))
    }
}

/// The client's address without a session.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The site's scheme as browsers reach it: `https` behind TLS (`cookie_secure`, which an https
/// `public_url` sets), otherwise `http`.
pub fn scheme(state: &AppState) -> &'static str {
    if state.config.cookie_secure {
        "https"
    } else {
        "http"
    }
}

/// A `Set-Cookie` value of this site: HttpOnly, same-site only, `Secure` behind TLS.
pub fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age_seconds: i64,
) -> Option<HeaderValue> {
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age_seconds}{secure}"
    ))
    .ok()
}

/// The `Set-Cookie` value that carries a new session to the browser.
pub fn session_cookie(state: &AppState, token: &str, max_age_seconds: i64) -> Option<HeaderValue> {
    cookie_header(state, SESSION_COOKIE, token, "/", max_age_seconds)
}

/// The `Set-Cookie` value that clears the session cookie (sign-out).
pub fn cleared_session_cookie(state: &AppState) -> Option<HeaderValue> {
    cookie_header(state, SESSION_COOKIE, "", "/", 0)
}

/// The address the browser used to reach this server (`http://host:port`; `https://` behind TLS, as
/// `[session] cookie_secure` says): where a phone is sent when no public URL is configured.
pub struct SiteBase(pub String);

impl FromRequestParts<AppState> for SiteBase {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("127.0.0.1");
        Ok(SiteBase(format!("{}://{host}", scheme(state))))
    }
}

/// The app's bearer token on the QR signing calls (not a session: those calls have none).
pub struct AppToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for AppToken {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(AppToken(bearer_token(parts)))
    }
}
