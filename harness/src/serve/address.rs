//! Where a vpcd listens (`HOST[:PORT]` as reader.conf writes it) and the socket address of each
//! served card's slot.

use crate::serve::error::ServeError;

/// Where a vpcd listens: `HOST[:PORT]` (a name, an IPv4 address, or `[IPv6]`); the port in
/// decimal or `0x` hex as in reader.conf, for the first card (the next cards on the next ports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VpcdAddress {
    /// Host name or address.
    pub host: String,
    /// The first card's port (default: 35963 + the first slot).
    pub port: Option<u16>,
}

impl std::str::FromStr for VpcdAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "`{s}` is not a vpcd address ({why}); write HOST or HOST:PORT, e.g. 192.168.1.20:35963 or [::1]:0x8C7B"
            )
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| bad("text after `]`"))?),
                ),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(bad("an IPv6 address needs brackets"));
                }
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("no host"));
        }
        let port = match port {
            None => None,
            Some(p) => {
                let n = match p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
                    Some(hex) => u16::from_str_radix(hex, 16),
                    None => p.parse::<u16>(),
                }
                .map_err(|_| bad("the port is a number from 1 to 65535"))?;
                if n == 0 {
                    return Err(bad("the port is a number from 1 to 65535"));
                }
                Some(n)
            }
        };
        Ok(VpcdAddress {
            host: host.to_string(),
            port,
        })
    }
}

impl VpcdAddress {
    /// The socket address of the `i`-th card's vpcd slot.
    pub(super) fn resolve(
        &self,
        first_slot: u16,
        i: u16,
    ) -> Result<std::net::SocketAddr, ServeError> {
        use std::net::ToSocketAddrs;
        let port = self
            .port
            .unwrap_or(kazasu_sim::vpcd::BASE_PORT.saturating_add(first_slot))
            .checked_add(i)
            .ok_or_else(|| {
                ServeError::Address(format!("card {} would be past port 65535", i + 1))
            })?;
        (self.host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| {
                ServeError::Address(format!("cannot resolve the vpcd host `{}`: {e}", self.host))
            })?
            // vpcd listens on IPv4 (0.0.0.0) unless built otherwise: a name with both kinds of
            // address is reached on IPv4.
            .min_by_key(|a| a.is_ipv6())
            .ok_or_else(|| ServeError::Address(format!("the vpcd host `{}` has no address", self.host)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpcd_addresses_read_as_reader_conf_writes_them() {
        let a = |s: &str| s.parse::<VpcdAddress>();
        let ok = |host: &str, port: Option<u16>| {
            Ok(VpcdAddress {
                host: host.into(),
                port,
            })
        };
        assert_eq!(a("192.168.1.20"), ok("192.168.1.20", None));
        assert_eq!(a("clinic-pc:35963"), ok("clinic-pc", Some(35963)));
        assert_eq!(a("localhost:0x8C7B"), ok("localhost", Some(0x8C7B)));
        assert_eq!(a("[::1]:35965"), ok("::1", Some(35965)));
        assert_eq!(a("[::1]"), ok("::1", None));
        for bad in [
            "",
            ":35963",
            "::1:35963",
            "host:0",
            "host:65536",
            "host:x",
            "[::1",
            "a b",
        ] {
            let e = a(bad).expect_err(bad);
            assert!(e.contains("HOST:PORT"), "{bad}: {e}");
        }
        // The first card on the given port, the next ones on the next ports; the default is
        // this machine's vpcd port of the slot.
        let loopback = a("127.0.0.1").unwrap();
        assert_eq!(loopback.resolve(3, 1).unwrap().port(), 35963 + 4);
        let given = a("127.0.0.1:40000").unwrap();
        assert_eq!(given.resolve(0, 2).unwrap().port(), 40002);
        assert!(a("127.0.0.1:65535").unwrap().resolve(0, 1).is_err());
    }
}
