//! Ports for local services that must be known before they bind (a node's
//! endpoint is registered on chain before the node starts).
//!
//! A port the kernel picks for `bind(0)` comes from the ephemeral range, the
//! same range every outgoing connection takes its local port from: between
//! choosing such a port and binding it, any connection on the machine may
//! take it (test harnesses run many). Ports below that range are never
//! taken that way, so they are handed out from there, each checked free
//! when handed out.
//!
//! Not for: production services, which listen where they are configured to.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The next port to try, shared by the whole process.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The lowest port of the kernel's ephemeral range (Linux: 32768 by default).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32_768)
}

/// A port free now on 127.0.0.1 that no outgoing connection can take
/// before the caller's service binds it: below the ephemeral range when
/// there is room (from 10,000, spread by process id so that concurrent test
/// processes start apart), the kernel's choice otherwise.
pub fn unused_port() -> std::io::Result<u16> {
    let (low, high) = (10_000u32, u32::from(ephemeral_start()));
    if high > low + 1_000 {
        let span = high - low;
        let _ = NEXT.compare_exchange(0, (std::process::id() * 97) % span + 1, Ordering::SeqCst, Ordering::SeqCst);
        for _ in 0..span {
            let port = low + NEXT.fetch_add(1, Ordering::SeqCst) % span;
            if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
                return Ok(port as u16);
            }
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| unused_port().unwrap()).collect();
        let mut distinct = ports.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len());
        if ephemeral_start() > 11_000 {
            assert!(ports.iter().all(|p| *p >= 10_000 && *p < ephemeral_start()), "{ports:?}");
        }
        for p in ports {
            TcpListener::bind(("127.0.0.1", p)).expect("still free");
        }
    }
}
