//! CRC32c byte at a time from a table (RFC 9260 Appendix A): slow,
//! obviously right. The oracle that the accelerated implementation is
//! checked against (tests/codec.rs) and measured against (benches/codec.rs).

/// The reflected Castagnoli polynomial, as RFC 9260 Appendix A gives it.
pub const POLY: u32 = 0x82F6_3B78;

/// The table of the byte-at-a-time algorithm.
pub fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    for (i, entry) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
        }
        *entry = c;
    }
    table
}

/// The CRC32c of `data` with a `table()` made beforehand.
pub fn crc32c_with(table: &[u32; 256], data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The CRC32c of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_with(&table(), data)
}
