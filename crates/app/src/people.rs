//! Valid demo identifiers made with the real check-digit rule.

use qoljetim_domain::ids::complete_with_check_digit;
use qoljetim_domain::{Bin, Iin};

/// The n-th demo BIN: registered 2001–, type 4 (resident legal entity), head office.
pub fn demo_bin(n: u32) -> String {
    let mut serial = n * 37 + 11;
    loop {
        let prefix = format!(
            "{:02}{:02}40{:05}",
            1 + n % 20,
            1 + n % 12,
            serial % 100_000
        );
        if let Some(b) = complete_with_check_digit(&prefix)
            && Bin::parse(&b).is_ok()
        {
            return b;
        }
        serial += 1;
    }
}

/// The n-th demo IIN: born in the 1970s–80s.
pub fn demo_iin(n: u32) -> String {
    let mut serial = n * 53 + 7;
    loop {
        let prefix = format!(
            "{:02}{:02}{:02}{}{:04}",
            70 + n % 20,
            1 + n % 12,
            1 + n % 28,
            3 + n % 2,
            serial % 10_000
        );
        if let Some(i) = complete_with_check_digit(&prefix)
            && Iin::parse(&i).is_ok()
        {
            return i;
        }
        serial += 1;
    }
}
