//! Which partner URLs we fetch. A partner hands us URLs (its versions endpoint, its module
//! endpoints) and we call them from inside the operator's network: without a policy any partner,
//! or anyone holding a token A, could make the CPMS request internal services (SSRF). So a URL
//! must be `https` and every address its host resolves to must be public; the request is then
//! pinned to those checked addresses, so a second DNS answer cannot point it elsewhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Why a partner URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlPolicyError {
    /// Not a URL.
    #[error("not a valid URL: {0}")]
    Invalid(String),
    /// Not `https` (or not http(s) at all when private URLs are allowed).
    #[error("partner URLs must use https: {0}")]
    NotHttps(String),
    /// The host does not resolve.
    #[error("cannot resolve {0}")]
    Unresolvable(String),
    /// The host resolves to a loopback, private, link-local or otherwise non-public address.
    #[error("partner URL {url} resolves to the non-public address {ip} (set ocpi.allow_private_partner_urls for test setups)")]
    NonPublic {
        /// The URL.
        url: String,
        /// The offending address.
        ip: IpAddr,
    },
}

/// A URL that passed the policy, with the addresses it may be fetched from.
#[derive(Debug, Clone)]
pub struct CheckedUrl {
    /// The URL.
    pub url: Url,
    /// Its host name (for pinning).
    pub host: String,
    /// The addresses that were checked.
    pub addrs: Vec<SocketAddr>,
}

/// The policy: strict by default, everything http(s) when private URLs are allowed.
#[derive(Debug, Clone, Copy)]
pub struct UrlPolicy {
    /// Allow `http` and non-public addresses (test setups with the eMSP on loopback).
    pub allow_private: bool,
}

impl UrlPolicy {
    /// Checks `raw` and resolves its host.
    pub async fn check(&self, raw: &str) -> Result<CheckedUrl, UrlPolicyError> {
        let url = Url::parse(raw).map_err(|_| UrlPolicyError::Invalid(raw.to_owned()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(UrlPolicyError::NotHttps(raw.to_owned())),
        }
        let host = url
            .host_str()
            .ok_or_else(|| UrlPolicyError::Invalid(raw.to_owned()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| UrlPolicyError::Invalid(raw.to_owned()))?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| UrlPolicyError::Unresolvable(host.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(UrlPolicyError::Unresolvable(host));
        }
        if !self.allow_private {
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(UrlPolicyError::NonPublic {
                    url: raw.to_owned(),
                    ip: bad.ip(),
                });
            }
        }
        Ok(CheckedUrl { url, host, addrs })
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, CGNAT,
/// unspecified, multicast, documentation or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments; 198.18.0.0/15, benchmarking; 240/4, reserved.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // ::ffff:0:0/96 is handled as IPv4; 64:ff9b::/96 (NAT64) could reach anything.
        || first == 0x0064)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy {
        allow_private: false,
    };
    const LAX: UrlPolicy = UrlPolicy {
        allow_private: true,
    };

    #[test]
    fn non_public_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} counted as public");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} counted as private");
        }
    }

    #[tokio::test]
    async fn only_https_to_public_addresses_passes_the_strict_policy() {
        assert!(matches!(
            STRICT.check("http://8.8.8.8/ocpi/versions").await,
            Err(UrlPolicyError::NotHttps(_))
        ));
        assert!(matches!(
            STRICT.check("ftp://8.8.8.8/").await,
            Err(UrlPolicyError::NotHttps(_))
        ));
        assert!(matches!(
            STRICT.check("not a url").await,
            Err(UrlPolicyError::Invalid(_))
        ));
        for url in [
            "https://127.0.0.1/ocpi/versions",
            "https://localhost:8443/ocpi/versions",
            "https://[::1]/ocpi",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/ocpi",
        ] {
            assert!(
                matches!(
                    STRICT.check(url).await,
                    Err(UrlPolicyError::NonPublic { .. })
                ),
                "{url} passed"
            );
        }
        let ok = STRICT
            .check("https://8.8.8.8:8443/ocpi/versions")
            .await
            .unwrap();
        assert_eq!(ok.addrs, vec!["8.8.8.8:8443".parse().unwrap()]);
    }

    #[tokio::test]
    async fn the_lax_policy_allows_loopback_over_http_but_no_other_scheme() {
        assert!(LAX.check("http://127.0.0.1:9/ocpi/versions").await.is_ok());
        assert!(matches!(
            LAX.check("file:///etc/passwd").await,
            Err(UrlPolicyError::NotHttps(_))
        ));
    }
}
