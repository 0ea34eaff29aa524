//! A small seeded generator (splitmix64) that gives the same numbers natively and in wasm, so a
//! seed fixes a corpus, a data order and an initialisation everywhere.

#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Mixing the seed once spreads small seeds (0, 1, 2 …) apart.
        Self {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// An independent stream for one purpose (`"noise"`, `"order"` …) derived from this one's
    /// seed, so adding draws for one purpose never shifts another's.
    pub fn fork(&self, purpose: &str) -> Self {
        let tag = purpose
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                (hash ^ byte as u64).wrapping_mul(0x100_0000_01b3)
            });
        Self::new(self.state ^ tag)
    }

    /// Where the stream stands, to carry it over to a later sitting with [`Rng::resumed`].
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The stream continued from a [`Rng::state`].
    pub fn resumed(state: u64) -> Self {
        Self { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 24 bits give every float f32 can step through evenly there.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [low, high).
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n
    }

    /// One element, or None from an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let u = self.unit().max(f32::MIN_POSITIVE);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(
            (0..5).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..5).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
        a.next_u64();
        let mut continued = Rng::resumed(a.state());
        assert_eq!(continued.next_u64(), a.next_u64());
        let root = Rng::new(7);
        assert_ne!(root.fork("order").next_u64(), root.fork("noise").next_u64());
    }

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut rng = Rng::new(1);
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            let i = rng.below(5);
            seen[i] += 1;
            let u = rng.uniform(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&u));
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        let mean = (0..20000).map(|_| rng.normal()).sum::<f32>() / 20000.0;
        assert!(mean.abs() < 0.05, "{mean}");
    }
}
