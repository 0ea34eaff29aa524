//! Attention rollout (Abnar & Zuidema, 2020): one temporal distribution over the teacher's
//! frames from its per-layer self-attention. The paper does not spell out its map, so every
//! choice here is a setting with the standard reading as default.

use serde::{Deserialize, Serialize};
use std::ops::Range;
use thiserror::Error;

/// Self-attention weights of several layers, row-major `[layers, heads, frames, frames]`.
/// Deserialising checks the shape as [`AttentionMaps::new`] does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedMaps")]
pub struct AttentionMaps {
    layers: usize,
    heads: usize,
    frames: usize,
    values: Vec<f32>,
}

/// The serialised form of [`AttentionMaps`], before its shape is checked.
#[derive(Deserialize)]
struct UncheckedMaps {
    layers: usize,
    heads: usize,
    frames: usize,
    values: Vec<f32>,
}

impl TryFrom<UncheckedMaps> for AttentionMaps {
    type Error = RolloutError;

    fn try_from(maps: UncheckedMaps) -> Result<Self, Self::Error> {
        Self::new(maps.layers, maps.heads, maps.frames, maps.values)
    }
}

impl AttentionMaps {
    /// Checks that `values` holds `layers × heads × frames × frames` numbers.
    pub fn new(
        layers: usize,
        heads: usize,
        frames: usize,
        values: Vec<f32>,
    ) -> Result<Self, RolloutError> {
        // The sizes may come from a file: a product that overflows matches no length.
        let expected = [heads, frames, frames]
            .iter()
            .try_fold(layers, |total, &n| total.checked_mul(n));
        if expected != Some(values.len()) || values.is_empty() {
            return Err(RolloutError::Shape {
                layers,
                heads,
                frames,
                values: values.len(),
            });
        }
        Ok(Self {
            layers,
            heads,
            frames,
            values,
        })
    }

    pub fn layers(&self) -> usize {
        self.layers
    }

    pub fn heads(&self) -> usize {
        self.heads
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Everything, row-major `[layers, heads, frames, frames]`.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// One head's `frames × frames` map, row-major.
    pub fn map(&self, layer: usize, head: usize) -> Option<&[f32]> {
        if layer >= self.layers || head >= self.heads {
            return None;
        }
        let size = self.frames * self.frames;
        let start = (layer * self.heads + head) * size;
        self.values.get(start..start + size)
    }

    /// `[layer][head][row][column]`, serialised from the maps themselves, without a copy.
    pub fn nested(&self) -> NestedMaps<'_> {
        NestedMaps(self)
    }
}

/// [`AttentionMaps`] as nested arrays, `[layer][head][row][column]`, read from its values as
/// they are serialised.
pub struct NestedMaps<'a>(&'a AttentionMaps);

impl Serialize for NestedMaps<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let maps = self.0;
        // Never zero: maps hold at least one value.
        let row = maps.frames;
        let map = row * row;
        serializer.collect_seq(
            maps.values
                .chunks(map * maps.heads)
                .map(|layer| Seq(layer.chunks(map).map(move |head| Seq(head.chunks(row))))),
        )
    }
}

/// An iterator serialised as a sequence of its items (a clone of it, so it can be again).
struct Seq<I>(I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

#[derive(Clone, Debug, Error, PartialEq)]
pub enum RolloutError {
    #[error(
        "attention maps of {layers} layers × {heads} heads × {frames}² frames cannot hold {values} values"
    )]
    Shape {
        layers: usize,
        heads: usize,
        frames: usize,
        values: usize,
    },
    #[error("layers {start}..{end} are not within the model's {layers} layers")]
    Layers {
        start: usize,
        end: usize,
        layers: usize,
    },
    #[error("the residual weight must be within 0 and 1, not {0}")]
    Residual(f32),
}

/// How the heads of one layer become one map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadFusion {
    #[default]
    Mean,
    Max,
}

/// Which row of the rolled-out matrix is the temporal map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutRow {
    /// `R[0, :]`: what the first frame, read by a first-frame classifier, attends to.
    FirstFrame,
    /// The mean of `R`'s rows: what a mean-pooled classifier attends to.
    #[default]
    MeanOfRows,
}

/// The settings of [`rollout`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutConfig {
    /// Layers that take part, first layer 0; `None` for all.
    pub layers: Option<Range<usize>>,
    pub head_fusion: HeadFusion,
    /// Weight of the identity standing for the residual connection: `Â = (1−w)·Ā + w·I`.
    pub residual: f32,
    pub row: RolloutRow,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            layers: None,
            head_fusion: HeadFusion::Mean,
            residual: 0.5,
            row: RolloutRow::MeanOfRows,
        }
    }
}

/// The rolled-out temporal map over the teacher's frames; it sums to 1.
///
/// `r = v · Â_L ⋯ Â_1` with `v` the chosen row selector, so only vector–matrix products are
/// needed. Each `Â_l` has its rows renormalised to 1, which changes nothing for mean fusion
/// and keeps max fusion a distribution.
pub fn rollout(maps: &AttentionMaps, config: &RolloutConfig) -> Result<Vec<f32>, RolloutError> {
    let layers = config.layers.clone().unwrap_or(0..maps.layers);
    if layers.start >= layers.end || layers.end > maps.layers {
        return Err(RolloutError::Layers {
            start: layers.start,
            end: layers.end,
            layers: maps.layers,
        });
    }
    if !(0.0..=1.0).contains(&config.residual) {
        return Err(RolloutError::Residual(config.residual));
    }
    let frames = maps.frames;
    let mut row = match config.row {
        RolloutRow::FirstFrame => {
            let mut first = vec![0.0; frames];
            if let Some(selected) = first.first_mut() {
                *selected = 1.0;
            }
            first
        }
        RolloutRow::MeanOfRows => vec![1.0 / frames as f64; frames],
    };
    // Last layer first: r = v·Â_L, then r·Â_{L−1}, …
    for layer in layers.rev() {
        let fused = fuse_heads(maps, layer, config.head_fusion);
        let mut next = vec![0.0; frames];
        for (i, weight) in row.iter().enumerate() {
            let Some(map_row) = fused.get(i * frames..(i + 1) * frames) else {
                continue;
            };
            let sum: f64 = map_row.iter().sum();
            let attend = (1.0 - config.residual as f64) / if sum > 0.0 { sum } else { 1.0 };
            for (j, value) in map_row.iter().enumerate() {
                next[j] += weight * attend * value;
            }
            next[i] += weight * config.residual as f64;
        }
        row = next;
    }
    Ok(normalise(row.iter().map(|&v| v as f32).collect()))
}

/// One layer's heads fused into a `frames × frames` map.
fn fuse_heads(maps: &AttentionMaps, layer: usize, fusion: HeadFusion) -> Vec<f64> {
    let size = maps.frames * maps.frames;
    let heads = (0..maps.heads).filter_map(|head| maps.map(layer, head));
    let mut fused = vec![
        match fusion {
            HeadFusion::Mean => 0.0,
            HeadFusion::Max => f64::NEG_INFINITY,
        };
        size
    ];
    for map in heads {
        for (out, &value) in fused.iter_mut().zip(map) {
            *out = match fusion {
                HeadFusion::Mean => *out + value as f64 / maps.heads as f64,
                HeadFusion::Max => out.max(value as f64),
            };
        }
    }
    fused
}

/// A distribution over `frames` frames resampled to `target` frames: linear interpolation with
/// frame centres aligned (PyTorch's `interpolate(mode="linear", align_corners=False)`), then
/// renormalised to sum to 1.
pub fn resample_distribution(distribution: &[f32], target: usize) -> Vec<f32> {
    let source = distribution.len();
    if source == 0 || target == 0 {
        return vec![1.0 / target.max(1) as f32; target];
    }
    let scale = source as f64 / target as f64;
    let last = (source - 1) as f64;
    let resampled = (0..target)
        .map(|i| {
            let position = ((i as f64 + 0.5) * scale - 0.5).clamp(0.0, last);
            let left = position.floor() as usize;
            let right = (left + 1).min(source - 1);
            let fraction = (position - left as f64) as f32;
            distribution[left] * (1.0 - fraction) + distribution[right] * fraction
        })
        .collect();
    normalise(resampled)
}

/// Scales non-negative weights to sum to 1; all-zero or non-finite input becomes uniform.
pub fn normalise(mut weights: Vec<f32>) -> Vec<f32> {
    for weight in &mut weights {
        if !weight.is_finite() || *weight < 0.0 {
            *weight = 0.0;
        }
    }
    let sum: f32 = weights.iter().sum();
    let count = weights.len().max(1) as f32;
    for weight in &mut weights {
        *weight = if sum > 0.0 {
            *weight / sum
        } else {
            1.0 / count
        };
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_maps(layers: usize, heads: usize, frames: usize) -> AttentionMaps {
        let mut values = vec![0.0; layers * heads * frames * frames];
        for map in values.chunks_mut(frames * frames) {
            for i in 0..frames {
                map[i * frames + i] = 1.0;
            }
        }
        AttentionMaps::new(layers, heads, frames, values).unwrap()
    }

    #[test]
    fn sizes_whose_product_overflows_are_refused() {
        // (usize::MAX / 4 + 2) · 1 · 2 · 2 wraps round to 4, the length given.
        let layers = usize::MAX / 4 + 2;
        assert!(AttentionMaps::new(layers, 1, 2, vec![0.25; 4]).is_err());
        let maps = identity_maps(1, 2, 3);
        assert!(maps.map(0, 2).is_none());
        assert!(maps.map(usize::MAX, 0).is_none());
    }

    #[test]
    fn nested_maps_serialise_as_layers_of_heads_of_rows() {
        let values: Vec<f32> = (0..2 * 3 * 2 * 2).map(|v| v as f32).collect();
        let maps = AttentionMaps::new(2, 3, 2, values).unwrap();
        let nested: Vec<Vec<Vec<Vec<f32>>>> =
            serde_json::from_str(&serde_json::to_string(&maps.nested()).unwrap()).unwrap();
        assert_eq!(nested.len(), 2);
        assert!(nested.iter().all(|layer| layer.len() == 3));
        assert_eq!(nested[1][2], vec![vec![20.0, 21.0], vec![22.0, 23.0]]);
        assert_eq!(nested[0][1][1], maps.map(0, 1).unwrap()[2..]);
    }

    #[test]
    fn attention_to_itself_keeps_the_selected_row() {
        let maps = identity_maps(3, 2, 5);
        let first = RolloutConfig {
            row: RolloutRow::FirstFrame,
            ..Default::default()
        };
        assert_eq!(
            rollout(&maps, &first).unwrap(),
            vec![1.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(
            rollout(&maps, &RolloutConfig::default()).unwrap(),
            vec![0.2; 5]
        );
    }

    #[test]
    fn every_frame_attending_to_one_frame_concentrates_the_map_there() {
        let frames = 4;
        let mut values = vec![0.0; 2 * frames * frames];
        for row in values.chunks_mut(frames) {
            row[2] = 1.0;
        }
        let maps = AttentionMaps::new(2, 1, frames, values).unwrap();
        let map = rollout(&maps, &RolloutConfig::default()).unwrap();
        // Residual 0.5 per layer: 1 − 0.25 of the mass ends on frame 2, plus its own share.
        assert!((map[2] - (0.75 + 0.25 / 4.0)).abs() < 1e-6, "{map:?}");
        assert!((map.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_settings_are_errors() {
        let maps = identity_maps(2, 1, 3);
        let layers = RolloutConfig {
            layers: Some(1..3),
            ..Default::default()
        };
        assert!(matches!(
            rollout(&maps, &layers),
            Err(RolloutError::Layers { .. })
        ));
        let residual = RolloutConfig {
            residual: 1.5,
            ..Default::default()
        };
        assert_eq!(rollout(&maps, &residual), Err(RolloutError::Residual(1.5)));
        assert!(AttentionMaps::new(1, 1, 3, vec![0.0; 8]).is_err());
    }

    #[test]
    fn resampling_keeps_a_distribution() {
        assert_eq!(resample_distribution(&[0.5, 0.5], 4), vec![0.25; 4]);
        let peaked = resample_distribution(&[0.0, 1.0, 0.0], 6);
        assert!((peaked.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(peaked[2] > peaked[0] && peaked[3] > peaked[5]);
        assert_eq!(resample_distribution(&[], 2), vec![0.5, 0.5]);
        assert_eq!(normalise(vec![0.0, f32::NAN]), vec![0.5, 0.5]);
    }
}
