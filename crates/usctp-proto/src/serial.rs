//! Serial number arithmetic (RFC 1982) for TSNs, SSNs and MIDs.
//!
//! These counters wrap, so "greater than" only means something for two
//! values less than half the number space apart. The types here therefore
//! have no `Ord`: comparisons are named (`is_after`, `is_before`), and
//! distances are taken explicitly. RFC 9260 §1.6 requires this arithmetic
//! for TSNs (32 bits) and SSNs (16 bits); RFC 8260 uses it for MIDs.

macro_rules! serial {
    ($(#[$doc:meta])* $ty:ident($int:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        pub struct $ty(pub $int);

        impl $ty {
            /// Half the number space: RFC 1982's 2^(SERIAL_BITS - 1).
            const HALF: $int = 1 << (<$int>::BITS - 1);

            /// The value `n` steps after this one, wrapping.
            #[must_use]
            pub const fn add(self, n: $int) -> Self {
                Self(self.0.wrapping_add(n))
            }

            /// The value `n` steps before this one, wrapping.
            #[must_use]
            pub const fn sub(self, n: $int) -> Self {
                Self(self.0.wrapping_sub(n))
            }

            /// The next value.
            #[must_use]
            pub const fn next(self) -> Self {
                self.add(1)
            }

            /// The previous value.
            #[must_use]
            pub const fn prev(self) -> Self {
                self.sub(1)
            }

            /// How many steps forward lead from `self` to `other`, wrapping.
            pub const fn distance_to(self, other: Self) -> $int {
                other.0.wrapping_sub(self.0)
            }

            /// RFC 1982 §3.2: `self` comes after `other`. Values exactly half
            /// the space apart are neither before nor after each other.
            pub const fn is_after(self, other: Self) -> bool {
                let d = other.distance_to(self);
                d != 0 && d < Self::HALF
            }

            /// RFC 1982 §3.2: `self` comes before `other`.
            pub const fn is_before(self, other: Self) -> bool {
                other.is_after(self)
            }

            /// `self` is `other` or comes after it.
            pub const fn is_at_or_after(self, other: Self) -> bool {
                self.0 == other.0 || self.is_after(other)
            }

            /// `self` is `other` or comes before it.
            pub const fn is_at_or_before(self, other: Self) -> bool {
                self.0 == other.0 || self.is_before(other)
            }
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

serial! {
    /// Transmission Sequence Number: one per DATA or I-DATA chunk (32 bits).
    Tsn(u32)
}

serial! {
    /// Stream Sequence Number: one per ordered message on a stream (16 bits).
    Ssn(u16)
}

serial! {
    /// Message Identifier of I-DATA (RFC 8260 §2.1), 32 bits.
    Mid(u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_at_the_top_of_the_space() {
        assert_eq!(Tsn(u32::MAX).next(), Tsn(0));
        assert!(Tsn(0).is_after(Tsn(u32::MAX)));
        assert!(Ssn(2).is_after(Ssn(65_530)));
        assert_eq!(Ssn(65_535).distance_to(Ssn(1)), 2);
        assert_eq!(Tsn(5).prev(), Tsn(4));
    }

    #[test]
    fn rfc1982_half_space_is_undefined() {
        // RFC 1982 §3.2: i1 and i1 + 2^(n-1) are not comparable.
        assert!(!Tsn(0).is_after(Tsn(1 << 31)));
        assert!(!Tsn(1 << 31).is_after(Tsn(0)));
        assert!(!Ssn(0).is_before(Ssn(1 << 15)));
    }

    proptest! {
        #[test]
        fn adding_less_than_half_moves_forward(a: u32, n in 1u32..(1 << 31)) {
            let t = Tsn(a);
            prop_assert!(t.add(n).is_after(t));
            prop_assert!(t.is_before(t.add(n)));
            prop_assert!(!t.add(n).is_before(t));
            prop_assert_eq!(t.distance_to(t.add(n)), n);
            prop_assert_eq!(t.add(n).sub(n), t);
        }

        #[test]
        fn adding_more_than_half_moves_backward(a: u16, n in (1u16 << 15) + 1..=u16::MAX) {
            let s = Ssn(a);
            prop_assert!(s.add(n).is_before(s));
        }

        #[test]
        fn before_and_after_are_exclusive_and_irreflexive(a: u32, b: u32) {
            let (a, b) = (Mid(a), Mid(b));
            prop_assert!(!(a.is_after(b) && a.is_before(b)));
            prop_assert!(!a.is_after(a));
            prop_assert_eq!(a.is_after(b), b.is_before(a));
            prop_assert_eq!(a.is_at_or_after(b), a == b || a.is_after(b));
        }
    }
}
