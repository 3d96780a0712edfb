//! One table per wire number space.
//!
//! `wire_enum!` turns a table of `CONSTANT = value, "NAME", "meaning";` rows
//! into an open newtype over the integer: named constants, `name()`,
//! `meaning()` and `Display`. A number outside the table is still a valid
//! value of the type, so parsing never has to reject it.

macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        pub struct $ty:ident($int:ty);
        $( $konst:ident = $value:literal, $name:literal, $meaning:literal; )*
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        pub struct $ty(pub $int);

        impl $ty {
            $(
                #[doc = $meaning]
                pub const $konst: Self = Self($value);
            )*

            /// Every value the table names.
            pub const KNOWN: &'static [Self] = &[$(Self::$konst),*];

            /// The registered name, as IANA spells it with underscores.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($name),)*
                    _ => None,
                }
            }

            /// What the value means, in a few words.
            pub const fn meaning(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($meaning),)*
                    _ => None,
                }
            }

            /// Whether the table names this value.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "UNKNOWN({:#x})", self.0),
                }
            }
        }
    };
}

pub(crate) use wire_enum;
