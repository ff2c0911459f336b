//! Where replies may go. The bot POSTs replies (with its app token) to the
//! `serviceUrl` an activity names, so an unchecked serviceUrl would let a
//! caller point the bot, and its token, at any host (SSRF).

use reqwest::Url;

use crate::error::AuthError;

#[derive(Debug, Clone)]
pub struct ServiceUrlPolicy {
    /// Lower-case host names; `*.example.com` matches any subdomain.
    hosts: Vec<String>,
    /// Local mode: http allowed, and loopback hosts (the Emulator) too.
    local: bool,
}

impl ServiceUrlPolicy {
    pub fn new<S: AsRef<str>>(hosts: &[S], local: bool) -> Result<Self, AuthError> {
        let mut out = Vec::with_capacity(hosts.len());
        for h in hosts {
            let h = h.as_ref().trim().to_ascii_lowercase();
            let name = h.strip_prefix("*.").unwrap_or(&h);
            if name.is_empty()
                || name.contains('*')
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(AuthError::Config(format!(
                    "allowed service host {h:?}: expected a host name, optionally starting with \"*.\""
                )));
            }
            out.push(h);
        }
        Ok(Self { hosts: out, local })
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Ok when replies may be sent to `service_url`.
    pub fn check(&self, service_url: &str) -> Result<(), AuthError> {
        let refuse = |reason: &str| AuthError::ServiceUrlNotAllowed {
            url: service_url.chars().take(256).collect(),
            reason: reason.to_string(),
        };
        let url = Url::parse(service_url).map_err(|_| refuse("not a URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.local => {}
            "http" => return Err(refuse("https is required outside local mode")),
            _ => return Err(refuse("only https URLs are allowed")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("credentials in the URL are not allowed"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) if self.local && ip.is_loopback() => return Ok(()),
            Some(url::Host::Ipv6(ip)) if self.local && ip.is_loopback() => return Ok(()),
            Some(_) => return Err(refuse("IP addresses are not on the allow-list")),
            None => return Err(refuse("no host")),
        };
        if self.local && host == "localhost" {
            return Ok(());
        }
        if self.hosts.iter().any(|p| matches(p, &host)) {
            Ok(())
        } else {
            Err(refuse("host is not on auth.allowed_service_hosts"))
        }
    }
}

fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::DEFAULT_SERVICE_HOSTS;

    #[test]
    fn default_hosts_allow_channels_and_refuse_others() {
        let p = ServiceUrlPolicy::new(&DEFAULT_SERVICE_HOSTS, false).unwrap();
        for ok in [
            "https://smba.trafficmanager.net/emea/",
            "https://directline.botframework.com/",
            "https://europe.webchat.botframework.com",
            "https://SMBA.trafficmanager.net./amer/",
            "https://smba.infra.gov.teams.microsoft.us/",
        ] {
            assert!(p.check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://smba.trafficmanager.net/emea/",
            "https://botframework.com.evil.example/",
            "https://evilbotframework.com/",
            "https://botframework.com/",
            "https://x.trafficmanager.net/",
            "https://169.254.169.254/metadata",
            "https://user@smba.trafficmanager.net/",
            "http://localhost:3978/",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(
                matches!(p.check(bad), Err(AuthError::ServiceUrlNotAllowed { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn local_mode_allows_http_and_loopback() {
        let p = ServiceUrlPolicy::new(&DEFAULT_SERVICE_HOSTS, true).unwrap();
        for ok in [
            "http://localhost:50000",
            "http://127.0.0.1:1/",
            "http://[::1]:2/",
            "http://directline.botframework.com/",
        ] {
            assert!(p.check(ok).is_ok(), "{ok}");
        }
        assert!(p.check("http://10.0.0.1/").is_err());
        assert!(p.check("http://example.com/").is_err());
    }

    #[test]
    fn bad_patterns_are_config_errors() {
        for bad in ["", "*", "a.*.com", "exa mple.com", "*."] {
            assert!(ServiceUrlPolicy::new(&[bad], false).is_err(), "{bad:?}");
        }
    }
}
