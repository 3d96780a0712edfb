//! The source of randomness: verification tags and initial TSNs (RFC 9260
//! §5.3.1), tie-tags (§5.2.2), cookie secrets (§5.1.3) and heartbeat
//! nonces (§5.4, §8.3) must be unpredictable to an attacker, so they come
//! from a cryptographically secure generator: the endpoint's, seeded by
//! the caller (the driver takes the seed from the operating system; tests
//! fix it), and one per association seeded from it.
//!
//! The generator follows HMAC_DRBG (NIST SP 800-90A §10.1.2) over
//! HMAC-SHA-1, its state moved on after every output block,
//! with the MAC the cookie already uses: no further dependency, and no global
//! state.

use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// SHA-1's output length, HMAC_DRBG's `outlen`.
const OUT: usize = 20;

/// A seeded HMAC_DRBG.
#[derive(Clone)]
pub struct Random {
    key: [u8; OUT],
    value: [u8; OUT],
    /// Output produced and not yet handed out.
    block: [u8; OUT],
    used: usize,
}

impl std::fmt::Debug for Random {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state is secret.
        f.write_str("Random { .. }")
    }
}

impl Random {
    /// A generator instantiated from 32 bytes of seed material.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = Self {
            key: [0; OUT],
            value: [1; OUT],
            block: [0; OUT],
            used: OUT,
        };
        rng.update(&seed);
        rng
    }

    fn mac(key: &[u8; OUT], parts: &[&[u8]]) -> [u8; OUT] {
        let mut mac = HmacSha1::new_from_slice(key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// HMAC_DRBG_Update.
    fn update(&mut self, data: &[u8]) {
        self.key = Self::mac(&self.key, &[&self.value, &[0], data]);
        self.value = Self::mac(&self.key, &[&self.value]);
        if !data.is_empty() {
            self.key = Self::mac(&self.key, &[&self.value, &[1], data]);
            self.value = Self::mac(&self.key, &[&self.value]);
        }
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            if self.used == OUT {
                self.value = Self::mac(&self.key, &[&self.value]);
                self.block = self.value;
                self.used = 0;
                // Backtracking resistance: the state moves on after each
                // block, so a later compromise does not reveal it.
                self.update(&[]);
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }

    /// A random `u32`.
    pub fn u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill(&mut b);
        u32::from_be_bytes(b)
    }

    /// A random `u64`.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill(&mut b);
        u64::from_be_bytes(b)
    }

    /// A random nonzero `u32`: verification tags must not be 0 (RFC 9260
    /// §3.3.2).
    pub fn nonzero_u32(&mut self) -> u32 {
        loop {
            let v = self.u32();
            if v != 0 {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let (mut a, mut b) = (Random::from_seed([7; 32]), Random::from_seed([7; 32]));
        let mut c = Random::from_seed([8; 32]);
        let xs: Vec<u64> = (0..100).map(|_| a.u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        // No value repeats in a short run, and the bits are balanced.
        let mut sorted = xs.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 100);
        let ones: u32 = xs.iter().map(|x| x.count_ones()).sum();
        assert!((2900..3500).contains(&ones), "{ones} of 6400 bits set");
    }

    #[test]
    fn output_does_not_depend_on_how_it_is_asked_for() {
        let mut a = Random::from_seed([1; 32]);
        let mut b = Random::from_seed([1; 32]);
        let mut whole = [0; 64];
        a.fill(&mut whole);
        let mut parts = [0; 64];
        for chunk in parts.chunks_mut(7) {
            b.fill(chunk);
        }
        assert_eq!(whole, parts);
    }
}
