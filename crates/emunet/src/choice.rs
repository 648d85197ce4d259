//! Options with a fixed set of values, named the same way by the command line, the C ABI and the
//! Python module.

/// An option's values and their names: `ALL` lists them in the order help texts show them.
pub trait Choice: Copy + Sized + 'static {
    /// Every value.
    const ALL: &'static [Self];

    /// This value's name, lower case.
    fn name(self) -> &'static str;

    /// The value called `name` (ASCII case ignored), if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(name))
    }

    /// Every name, in order (for help texts and error messages).
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.name()).collect()
    }
}

/// Implements [`Choice`], `Display` (the name) and `FromStr` for an enum of unit variants.
#[macro_export]
macro_rules! choice {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $crate::choice::Choice for $ty {
            const ALL: &'static [Self] = &[$($ty::$variant),+];
            fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::choice::Choice::name(*self))
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <Self as $crate::choice::Choice>::from_name(s).ok_or_else(|| {
                    format!(
                        "{s:?} is not one of {}",
                        <Self as $crate::choice::Choice>::names().join(", ")
                    )
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Choice;
    use crate::kernels::ProbFormat;

    #[test]
    fn names_round_trip_and_ignore_case() {
        for &v in ProbFormat::ALL {
            assert_eq!(ProbFormat::from_name(v.name()), Some(v));
            assert_eq!(v.name().parse::<ProbFormat>(), Ok(v));
            assert_eq!(v.to_string(), v.name());
        }
        assert_eq!(ProbFormat::from_name("U8"), Some(ProbFormat::U8));
        assert_eq!(ProbFormat::names(), ["f32", "f16", "u8"]);
        let err = "u16".parse::<ProbFormat>().unwrap_err();
        assert!(err.contains("f32, f16, u8"), "{err}");
    }
}
