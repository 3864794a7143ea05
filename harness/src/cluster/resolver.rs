//! Reading a resolver's answer as printed inside a pod (`getent ahostsv4`, or busybox's
//! `nslookup`): the `dns.service` check and the cluster layer (what an application pod dials)
//! both read it.

use std::collections::BTreeSet;

/// The IPv4 addresses of a resolver's answer: `getent ahostsv4` lines start with one;
/// `nslookup` prints its server first (`Server:`/`Address:` before the first `Name:`), and
/// only what follows is the answer.
pub fn addresses(output: &str) -> BTreeSet<String> {
    let ipv4 = |word: &str| {
        word.parse::<std::net::Ipv4Addr>()
            .ok()
            .map(|a| a.to_string())
    };
    if output.lines().any(|l| l.trim_start().starts_with("Name:")) {
        let answer = output
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Name:"));
        return answer
            .filter(|l| l.trim_start().starts_with("Address"))
            .filter_map(|l| {
                let value = l.split_once(':')?.1.trim();
                ipv4(value.split_whitespace().next()?)
            })
            .collect();
    }
    output
        .lines()
        .filter_map(|l| ipv4(l.split_whitespace().next()?))
        .collect()
}
