//! Every problem of a configuration, collected so that one start names them
//! all, each with its key, its value and where the value came from.

use std::fmt;
use std::time::Duration;

/// One refused value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub value: String,
    pub origin: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {:?} (from {}): {}",
            self.key, self.value, self.origin, self.reason
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Every problem found, in section order.
    #[error("configuration: {}", Listed(.0))]
    Invalid(Vec<Problem>),
    /// The layers could not be read or merged: a TOML syntax error, or a
    /// value of the wrong type.
    #[error("configuration: {0}")]
    Load(String),
}

impl SettingsError {
    /// One problem with a value from the environment, found before the
    /// layers are built.
    pub fn from_env(key: &str, value: &str, reason: &str) -> Self {
        SettingsError::Invalid(vec![Problem {
            key: key.into(),
            value: value.into(),
            origin: ENVIRONMENT.into(),
            reason: reason.into(),
        }])
    }
}

struct Listed<'a>(&'a [Problem]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} problems", all.len())?;
                all.iter().try_for_each(|p| write!(f, "\n  - {p}"))
            }
        }
    }
}

/// What the config crate and we call the environment layer.
pub const ENVIRONMENT: &str = "the environment";

/// A section's validation recorded at least one problem; the load returns
/// them all.
#[derive(Debug)]
pub struct Reported;

impl From<Reported> for SettingsError {
    // Only reached if a section said it reported without doing so.
    fn from(_: Reported) -> Self {
        SettingsError::Invalid(Vec::new())
    }
}

pub type Checked<T> = Result<T, Reported>;

/// The problems found so far, and where each key's value came from.
pub struct Problems<'a> {
    origin: Box<dyn Fn(&str) -> String + 'a>,
    found: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub fn new(origin: impl Fn(&str) -> String + 'a) -> Self {
        Self {
            origin: Box::new(origin),
            found: Vec::new(),
        }
    }

    /// Records that `key`'s value is refused, and why.
    pub fn invalid(
        &mut self,
        key: &str,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Reported {
        let origin = (self.origin)(key);
        self.found.push(Problem {
            key: key.into(),
            value: value.to_string(),
            origin,
            reason: reason.into(),
        });
        Reported
    }

    /// The same for a value read from the environment by its own name
    /// (`MicrosoftAppId`, ...), outside the layers.
    pub fn invalid_env(&mut self, key: &str, value: &str, reason: impl Into<String>) -> Reported {
        self.found.push(Problem {
            key: key.into(),
            value: value.into(),
            origin: ENVIRONMENT.into(),
            reason: reason.into(),
        });
        Reported
    }

    /// All problems, or none.
    pub fn finish(self) -> Result<(), SettingsError> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Invalid(self.found))
        }
    }

    /// `check` holds, or `key` is reported with `reason`.
    pub fn require(
        &mut self,
        check: bool,
        key: &str,
        value: impl fmt::Display,
        reason: &str,
    ) -> Checked<()> {
        if check {
            Ok(())
        } else {
            Err(self.invalid(key, value, reason))
        }
    }

    /// A count or size of at least `min`.
    pub fn at_least(&mut self, key: &str, value: u64, min: u64) -> Checked<u64> {
        self.require(value >= min, key, value, &format!("must be at least {min}"))?;
        Ok(value)
    }

    /// A duration in milliseconds of at least `min_ms`.
    pub fn millis(&mut self, key: &str, value: u64, min_ms: u64) -> Checked<Duration> {
        self.at_least(key, value, min_ms).map(Duration::from_millis)
    }

    /// A score between 0 and 1.
    pub fn unit_interval(&mut self, key: &str, value: f32) -> Checked<f32> {
        self.require(
            (0.0..=1.0).contains(&value),
            key,
            value,
            "must be between 0 and 1",
        )?;
        Ok(value)
    }

    /// One of a fixed set of words: the typed choice it names.
    pub fn choice<T: Clone>(
        &mut self,
        key: &str,
        value: &str,
        options: &[(&str, T)],
    ) -> Checked<T> {
        if let Some((_, t)) = options.iter().find(|(name, _)| *name == value) {
            return Ok(t.clone());
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let expected = match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        Err(self.invalid(key, value, format!("expected {expected}")))
    }
}
