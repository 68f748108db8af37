//! Bearer-token authentication and scope authorization, driven by the generated
//! method metadata. Tokens are looked up by SHA-256 digest and never logged.

use crate::config::AuthConfig;
use dotlanth_meta::MethodInfo;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use tonic::Status;

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Token name from the configuration.
    pub name: String,
    /// Granted scopes (`*` = all).
    pub scopes: Vec<String>,
    /// Authenticated with a development token.
    pub development: bool,
}

impl Principal {
    fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == "*" || s == scope)
    }
}

/// The token table.
#[derive(Clone, Debug)]
pub struct Authenticator {
    tokens: Arc<HashMap<[u8; 32], Principal>>,
}

impl Authenticator {
    /// Builds the table from the configuration.
    pub fn new(config: &AuthConfig) -> Self {
        let tokens = config
            .tokens
            .iter()
            .filter(|t| config.dev_tokens_enabled || !t.development)
            .map(|t| {
                (
                    digest(&t.token),
                    Principal {
                        name: t.name.clone(),
                        scopes: t.scopes.clone(),
                        development: t.development,
                    },
                )
            })
            .collect();
        Authenticator {
            tokens: Arc::new(tokens),
        }
    }

    /// Decides whether the caller may invoke `method`. Public methods admit anyone
    /// (a valid token still identifies the caller); the others need a known token
    /// holding every scope the method requires.
    pub fn authorize(
        &self,
        method: &MethodInfo,
        headers: &HeaderMap,
    ) -> Result<Option<Principal>, Status> {
        let principal = match bearer(headers) {
            Ok(Some(token)) => self.tokens.get(&digest(token)).cloned(),
            Ok(None) | Err(_) => None,
        };
        if let Some(p) = principal.as_ref().filter(|p| p.development) {
            tracing::warn!(token_name = %p.name, "development token accepted: do not use it outside local development");
        }
        if method.public {
            return Ok(principal);
        }
        let Some(principal) = principal else {
            return Err(match bearer(headers) {
                Ok(None) => Status::unauthenticated(
                    "missing bearer token (send `authorization: Bearer <token>`)",
                ),
                Err(msg) => Status::unauthenticated(msg),
                Ok(Some(_)) => Status::unauthenticated("invalid bearer token"),
            });
        };
        if let Some(missing) = method.scopes.iter().find(|s| !principal.has_scope(s)) {
            return Err(Status::permission_denied(format!(
                "token `{}` lacks scope `{missing}` required by {}/{}",
                principal.name, method.service, method.method
            )));
        }
        Ok(Some(principal))
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of an `authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "malformed authorization header")?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or("authorization header must be `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err("authorization header must be `Bearer <token>`");
    }
    Ok(Some(token.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenConfig;
    use dotlanth_meta::{GraphqlPlacement, Idempotency, MethodKind};

    fn method(public: bool, scopes: &'static [&'static str]) -> MethodInfo {
        MethodInfo {
            service: "s.v1.S",
            method: "M",
            grpc_path: "/s.v1.S/M",
            input_type: "s.v1.A",
            output_type: "s.v1.B",
            kind: MethodKind::Unary,
            idempotency: Idempotency::Unknown,
            public,
            scopes,
            http: &[],
            graphql: GraphqlPlacement::Mutation,
            deprecated: false,
        }
    }

    fn auth(dev_enabled: bool) -> Authenticator {
        Authenticator::new(&AuthConfig {
            enabled: true,
            dev_tokens_enabled: dev_enabled,
            tokens: vec![
                TokenConfig {
                    name: "reader".into(),
                    token: "r".into(),
                    scopes: vec!["read".into()],
                    development: false,
                },
                TokenConfig {
                    name: "dev".into(),
                    token: "d".into(),
                    scopes: vec!["*".into()],
                    development: true,
                },
            ],
        })
    }

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn decisions() {
        let a = auth(true);
        let code = |m: &MethodInfo, h: &HeaderMap| {
            a.authorize(m, h)
                .map(|p| p.map(|p| p.name))
                .map_err(|s| s.code())
        };
        let secured = method(false, &["read"]);
        let writer = method(false, &["write"]);
        assert_eq!(
            code(&secured, &HeaderMap::new()),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(
            code(&secured, &headers("Bearer nope")),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(
            code(&secured, &headers("Basic r")),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(
            code(&secured, &headers("bearer r")),
            Ok(Some("reader".into()))
        );
        assert_eq!(
            code(&writer, &headers("Bearer r")),
            Err(tonic::Code::PermissionDenied)
        );
        assert_eq!(code(&writer, &headers("Bearer d")), Ok(Some("dev".into())));
        assert_eq!(
            code(&method(false, &[]), &headers("Bearer r")),
            Ok(Some("reader".into()))
        );
        assert_eq!(code(&method(true, &[]), &HeaderMap::new()), Ok(None));
        assert_eq!(code(&method(true, &[]), &headers("Bearer bogus")), Ok(None));
        let no_dev = auth(false);
        assert_eq!(
            no_dev
                .authorize(&writer, &headers("Bearer d"))
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
    }
}
