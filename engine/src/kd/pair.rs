//! The two runs a comparison trains side by side from the same weights on the same batches:
//! one without temporal KD (λ = 0) and one with it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One value per run of a comparison. Serialised as the pair `[plain, kd]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlainAndKd<T> {
    /// The run without KD (λ = 0).
    pub plain: T,
    /// The run with KD.
    pub kd: T,
}

impl<T> PlainAndKd<T> {
    pub fn new(plain: T, kd: T) -> Self {
        Self { plain, kd }
    }

    /// Both runs' values from one function of the run (`false` for plain, `true` for KD).
    pub fn from_fn(mut value: impl FnMut(bool) -> T) -> Self {
        Self::new(value(false), value(true))
    }

    pub fn as_ref(&self) -> PlainAndKd<&T> {
        PlainAndKd::new(&self.plain, &self.kd)
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PlainAndKd<U> {
        PlainAndKd::new(f(self.plain), f(self.kd))
    }

    /// The value of the run with KD when `kd`, else of the plain run.
    pub fn get(&self, kd: bool) -> &T {
        if kd { &self.kd } else { &self.plain }
    }

    pub fn get_mut(&mut self, kd: bool) -> &mut T {
        if kd { &mut self.kd } else { &mut self.plain }
    }

    /// The plain run's value, then the KD run's.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        [&self.plain, &self.kd].into_iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        [&mut self.plain, &mut self.kd].into_iter()
    }
}

/// `[plain, kd]`, the order the pair is written in.
impl<T> From<[T; 2]> for PlainAndKd<T> {
    fn from([plain, kd]: [T; 2]) -> Self {
        Self::new(plain, kd)
    }
}

impl<T> IntoIterator for PlainAndKd<T> {
    type Item = T;
    type IntoIter = std::array::IntoIter<T, 2>;

    /// The plain run's value, then the KD run's.
    fn into_iter(self) -> Self::IntoIter {
        [self.plain, self.kd].into_iter()
    }
}

impl<T, E> PlainAndKd<Result<T, E>> {
    /// Both values, or the plain run's error first.
    pub fn transpose(self) -> Result<PlainAndKd<T>, E> {
        Ok(PlainAndKd::new(self.plain?, self.kd?))
    }
}

impl<T: Serialize> Serialize for PlainAndKd<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.plain, &self.kd).serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PlainAndKd<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (plain, kd) = <(T, T)>::deserialize(deserializer)?;
        Ok(Self::new(plain, kd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_written_as_the_two_element_array_it_replaced() {
        let pair = PlainAndKd::new(vec![1.0f32], vec![2.0, 3.0]);
        let text = serde_json::to_string(&pair).unwrap();
        assert_eq!(
            text,
            serde_json::to_string(&[vec![1.0f32], vec![2.0, 3.0]]).unwrap()
        );
        assert_eq!(
            serde_json::from_str::<PlainAndKd<Vec<f32>>>(&text).unwrap(),
            pair
        );
        assert!(serde_json::from_str::<PlainAndKd<u8>>("[1, 2, 3]").is_err());
    }

    #[test]
    fn a_pair_names_its_runs() {
        let pair = PlainAndKd::from_fn(|kd| if kd { "with KD" } else { "without KD" });
        assert_eq!(*pair.get(false), "without KD");
        assert_eq!(*pair.get(true), "with KD");
        assert_eq!(
            pair.map(str::len).iter().copied().collect::<Vec<_>>(),
            [10, 7]
        );
    }
}

/// How one run's check of a step came out, as the place that holds the other run learns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckOutcome {
    Sound,
    /// The loss diverged; the run went back to the weights after `kept` steps.
    Diverged {
        kept: usize,
    },
    /// Anything else went wrong; the comparison ends there.
    Failed,
}

/// What a run whose check was sound does with its step once the other run's check is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Apply,
    /// The other run diverged: back to the same `kept` steps.
    Undo {
        kept: usize,
    },
    /// The other run failed, or training stops: the step is dropped.
    Cancel,
}

impl Verdict {
    /// The verdict on a sound check when the other run's check came out as `other`.
    pub fn given(other: CheckOutcome) -> Self {
        match other {
            CheckOutcome::Sound => Self::Apply,
            CheckOutcome::Diverged { kept } => Self::Undo { kept },
            CheckOutcome::Failed => Self::Cancel,
        }
    }
}
