//! Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`, `128M`), parsed with the API
//! server's grammar, exactly, into thousandths of a unit:
//!
//! ```text
//! quantity  ::= number suffix          (no sign: resources are never negative)
//! suffix    ::= Ki | Mi | Gi | Ti | Pi | Ei | m | "" | k | M | G | T | P | E | e<int> | E<int>
//! number    ::= digits | digits.digits | digits. | .digits
//! ```
//!
//! `1.5.3Gi`, `1e3Mi` (an exponent and a suffix), `-1` and `500MB` are refused with the reason.

/// A quantity in thousandths of its unit (millicores for CPU, millibytes for memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Quantity {
    pub milli: u128,
}

/// The largest quantity accepted: far beyond any node, small enough that sums of many stay
/// exact (2^96 thousandths).
pub const MAX_MILLI: u128 = 1 << 96;

impl Quantity {
    pub fn from_milli(milli: u128) -> Self {
        Self { milli }
    }

    /// Whole units, rounded up (bytes of a memory quantity).
    pub fn units(&self) -> u64 {
        u64::try_from(self.milli.div_ceil(1000)).unwrap_or(u64::MAX)
    }

    /// Thousandths, saturating at `u64::MAX` (millicores of a CPU quantity).
    pub fn milli_u64(&self) -> u64 {
        u64::try_from(self.milli).unwrap_or(u64::MAX)
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.milli
            .checked_add(other.milli)
            .filter(|m| *m <= MAX_MILLI)
            .map(Self::from_milli)
    }

    pub fn checked_mul(self, n: u64) -> Option<Self> {
        self.milli
            .checked_mul(u128::from(n))
            .filter(|m| *m <= MAX_MILLI)
            .map(Self::from_milli)
    }
}

/// Why `text` is not a Kubernetes quantity, in plain words, or its value.
pub fn parse(text: &str) -> Result<Quantity, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("it is empty".into());
    }
    if t.starts_with('-') {
        return Err("it is negative; a resource quantity is never below zero".into());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let number_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(number_end);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => {
            if f.contains('.') {
                return Err("it has more than one decimal point".into());
            }
            (i, f)
        }
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("it does not start with a number".into());
    }
    if int_part.len() + frac_part.len() > 30 {
        return Err("it has more digits than any quantity needs".into());
    }
    // value = digits / 10^scale * 10^exp10 * 2^exp2, in thousandths.
    let digits: u128 = format!("{int_part}{frac_part}")
        .parse()
        .map_err(|_| "its number is not a number".to_string())?;
    let scale = frac_part.len() as i32;
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        s if s.starts_with(['e', 'E']) => {
            let exp = &s[1..];
            let valid = {
                let e = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                !e.is_empty() && e.len() <= 3 && e.bytes().all(|b| b.is_ascii_digit())
            };
            if !valid {
                return Err(format!(
                    "`{s}` is not a suffix: an exponent is `e` and a whole number (`1e3`), and cannot be combined with a unit"
                ));
            }
            (
                exp.parse()
                    .map_err(|_| format!("`{s}` is not an exponent"))?,
                0,
            )
        }
        s => {
            return Err(format!(
                "`{s}` is not a unit; use one of Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), m, k, M, G, T, P, E (powers of 1000), or an exponent such as `e3`"
            ));
        }
    };
    let too_large = || format!("`{text}` is larger than any quantity Kubernetes can hold");
    // Thousandths: shift the decimal exponent by 3.
    let exp = exp10 + 3 - scale;
    let mut milli = digits
        .checked_mul(1u128.checked_shl(exp2).ok_or_else(too_large)?)
        .ok_or_else(too_large)?;
    if exp >= 0 {
        let factor = 10u128.checked_pow(exp as u32).ok_or_else(too_large)?;
        milli = milli.checked_mul(factor).ok_or_else(too_large)?;
    } else {
        // Below a thousandth: rounded up, as the API server rounds.
        let divisor = 10u128.checked_pow((-exp) as u32).unwrap_or(u128::MAX);
        milli = milli.div_ceil(divisor);
    }
    if milli > MAX_MILLI {
        return Err(too_large());
    }
    Ok(Quantity { milli })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): the API server's grammar.
    #[test]
    fn quantities_follow_the_kubernetes_grammar() {
        let ok = |t: &str| parse(t).unwrap_or_else(|e| panic!("{t}: {e}")).milli;
        assert_eq!(ok("500m"), 500);
        assert_eq!(ok("2"), 2000);
        assert_eq!(ok("0.5"), 500);
        assert_eq!(ok(".5"), 500);
        assert_eq!(ok("1."), 1000);
        assert_eq!(ok("+1"), 1000);
        assert_eq!(ok("1Ki"), 1024 * 1000);
        assert_eq!(ok("1.5Gi"), 1536 * 1024 * 1024 * 1000);
        assert_eq!(ok("128M"), 128_000_000_000);
        assert_eq!(ok("1e3"), 1_000_000);
        assert_eq!(ok("1E-3"), 1);
        assert_eq!(ok("500M"), 500_000_000_000);
        assert_eq!(ok("0.0001"), 1, "rounded up to a thousandth");
        assert_eq!(parse("256Mi").unwrap().units(), 256 * 1024 * 1024);
        for bad in [
            "1.5.3Gi",
            "-1",
            "1e3Mi",
            "500MB",
            "",
            "Mi",
            "1 Gi",
            "1gi",
            "e3",
            "1e",
            "1e1000",
            "99999999999999999999999999999999",
            "1Ei1",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(parse("1e3Mi").unwrap_err().contains("cannot be combined"));
        assert!(parse("-1").unwrap_err().contains("negative"));
        assert!(parse("99999999999Ei").unwrap_err().contains("larger"));
    }

    #[test]
    fn arithmetic_is_checked() {
        let big = Quantity::from_milli(MAX_MILLI);
        assert_eq!(big.checked_add(Quantity::from_milli(1)), None);
        assert_eq!(big.checked_mul(2), None);
        assert_eq!(
            Quantity::from_milli(3).checked_mul(4),
            Some(Quantity::from_milli(12))
        );
    }
}
