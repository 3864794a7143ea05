//! `nodetool status` parsed into a typed ring view: datacenters, racks, state codes (U/D with
//! N/L/J/M), address, load with units, tokens, owns (with or without a keyspace, `?` when
//! unknown), host ID. Handles Cassandra 3.x, 4.x and 5.0 output; anything it does not recognise
//! is an error naming the line, never a silently empty ring.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Normal,
    Leaving,
    Joining,
    Moving,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RingNode {
    pub datacenter: String,
    pub rack: String,
    pub status: Status,
    pub state: State,
    pub address: String,
    /// Load in bytes, `None` when nodetool prints `?`.
    pub load_bytes: Option<u64>,
    pub tokens: Option<u32>,
    /// Effective ownership in percent, `None` for `?`.
    pub owns_percent: Option<f64>,
    pub host_id: String,
}

impl RingNode {
    /// `UN`, `DN`, `UJ`, ...
    pub fn code(&self) -> String {
        let s = match self.status {
            Status::Up => 'U',
            Status::Down => 'D',
        };
        let t = match self.state {
            State::Normal => 'N',
            State::Leaving => 'L',
            State::Joining => 'J',
            State::Moving => 'M',
        };
        format!("{s}{t}")
    }
    pub fn is_up_normal(&self) -> bool {
        self.status == Status::Up && self.state == State::Normal
    }
}

impl fmt::Display for RingNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ({}/{})",
            self.code(),
            self.address,
            self.host_id,
            self.datacenter,
            self.rack
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ring {
    pub nodes: Vec<RingNode>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("nodetool status line {line}: {message}: `{text}`")]
pub struct ParseError {
    pub line: usize,
    pub text: String,
    pub message: String,
}

fn load_bytes(value: &str, unit: Option<&str>) -> Option<u64> {
    let v: f64 = value.parse().ok()?;
    let factor: f64 = match unit.unwrap_or("bytes") {
        "bytes" | "B" => 1.0,
        "KB" | "KiB" => 1024.0,
        "MB" | "MiB" => 1024.0 * 1024.0,
        "GB" | "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TB" | "TiB" => 1024f64.powi(4),
        _ => return None,
    };
    Some((v * factor).round() as u64)
}

fn is_host_id(s: &str) -> bool {
    s.len() == 36
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && s.matches('-').count() == 4
}

/// Parses one node row: `UN  10.0.0.1  101.1 KiB  256  33.3%  <host id>  Rack1`.
fn parse_row(datacenter: &str, line: &str) -> Result<RingNode, String> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let code = words.first().copied().unwrap_or_default();
    let mut chars = code.chars();
    let status = match chars.next() {
        Some('U') => Status::Up,
        Some('D') => Status::Down,
        _ => return Err("unknown status (expected U or D)".into()),
    };
    let state = match chars.next() {
        Some('N') => State::Normal,
        Some('L') => State::Leaving,
        Some('J') => State::Joining,
        Some('M') => State::Moving,
        _ => return Err("unknown state (expected N, L, J or M)".into()),
    };
    if code.len() != 2 || words.len() < 5 {
        return Err("not a node row".into());
    }
    let rack = words.pop().unwrap_or_default().to_string();
    let host_id = words.pop().unwrap_or_default().to_string();
    if !is_host_id(&host_id) {
        return Err(format!("`{host_id}` is not a host ID"));
    }
    let address = words[1].to_string();
    if address.parse::<std::net::IpAddr>().is_err() && !address.contains('.') {
        return Err(format!("`{address}` is not an address"));
    }
    // Between the address and the host ID: load (`?`, `101.1 KiB`, `70 bytes`), optional
    // tokens, owns (`33.3%` or `?`).
    let middle = &words[2..];
    let (load_bytes, rest) = match middle {
        ["?", rest @ ..] => (None, rest),
        [v, unit, rest @ ..] if unit.chars().all(|c| c.is_ascii_alphabetic()) => (
            Some(load_bytes(v, Some(unit)).ok_or_else(|| format!("bad load `{v} {unit}`"))?),
            rest,
        ),
        _ => return Err("cannot read the load column".into()),
    };
    let (tokens, owns) = match rest {
        [tokens, owns] => (
            Some(
                tokens
                    .parse()
                    .map_err(|_| format!("bad token count `{tokens}`"))?,
            ),
            *owns,
        ),
        [owns] => (None, *owns),
        _ => return Err("cannot read the tokens and owns columns".into()),
    };
    let owns_percent = match owns {
        "?" => None,
        o => Some(
            o.trim_end_matches('%')
                .parse()
                .map_err(|_| format!("bad ownership `{o}`"))?,
        ),
    };
    Ok(RingNode {
        datacenter: datacenter.to_string(),
        rack,
        status,
        state,
        address,
        load_bytes,
        tokens,
        owns_percent,
        host_id,
    })
}

pub fn parse_status(output: &str) -> Result<Ring, ParseError> {
    let mut ring = Ring::default();
    let mut datacenter: Option<String> = None;
    let mut header_seen = false;
    for (i, raw) in output.lines().enumerate() {
        let line = raw.trim_end();
        let err = |message: String| ParseError {
            line: i + 1,
            text: line.to_string(),
            message,
        };
        let trimmed = line.trim();
        if let Some(dc) = trimmed.strip_prefix("Datacenter:") {
            datacenter = Some(dc.trim().to_string());
            header_seen = false;
            continue;
        }
        if trimmed.is_empty()
            || trimmed.starts_with('=')
            || trimmed.starts_with("Status=")
            || trimmed.starts_with("|/")
            || trimmed.starts_with("Note:")
            || trimmed.starts_with("WARN")
        {
            continue;
        }
        if trimmed.starts_with("--") {
            if !trimmed.contains("Address") || !trimmed.contains("Host ID") {
                return Err(err("unknown column header".into()));
            }
            header_seen = true;
            continue;
        }
        let looks_like_row = trimmed.len() > 2
            && matches!(
                &trimmed[..2],
                "UN" | "UL" | "UJ" | "UM" | "DN" | "DL" | "DJ" | "DM"
            );
        match (&datacenter, looks_like_row) {
            (Some(dc), true) if header_seen => {
                ring.nodes.push(parse_row(dc, trimmed).map_err(err)?)
            }
            (_, true) => {
                return Err(err(
                    "a node row before the `Datacenter:` and column header lines".into(),
                ));
            }
            (_, false) => return Err(err("unexpected line".into())),
        }
    }
    if ring.nodes.is_empty() {
        return Err(ParseError {
            line: output.lines().count(),
            text: String::new(),
            message: "no node rows found (unknown nodetool output)".into(),
        });
    }
    Ok(ring)
}

#[cfg(test)]
mod tests;
