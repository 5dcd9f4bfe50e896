//! Weight averaging: one artifact whose every tensor is the mean of several artifacts' tensors.
//!
//! Why: at the end of a run with a falling learning rate, consecutive epochs sit in the same
//! basin of the loss and differ mostly by the noise of their last steps; their mean usually
//! generalises better than any one of them (checkpoint averaging, "stochastic weight
//! averaging"), and it spares choosing one epoch by a small, noisy validation split. Averaging
//! makes sense only for weights of one run (the same initialisation); the weights of separately
//! trained runs do not line up unit for unit, and their mean is not a model.
//!
//! BatchNorm running statistics are averaged like the weights. That is an approximation (SWA
//! recomputes them with a pass over the training data); it is exact for the means when the
//! averaged weights change little, and validation tells whether it holds.

use std::collections::BTreeMap;

use crate::{Artifact, ModelError, StoredTensor};

fn differs(index: usize, reason: impl Into<String>) -> ModelError {
    ModelError::Average {
        index,
        reason: reason.into(),
    }
}

impl Artifact {
    /// The element-wise mean of `artifacts`' network tensors, with the first artifact's labels,
    /// configs, scaler and provenance (its accuracies and best epoch removed: they describe
    /// other weights). Every artifact must have the same labels, feature and network configs,
    /// scaler, and tensor names and shapes.
    ///
    /// # Errors
    /// [`ModelError::Average`] naming the first artifact (0-based) that differs from the first,
    /// and how; also when `artifacts` is empty.
    pub fn average(artifacts: &[Artifact]) -> Result<Artifact, ModelError> {
        let Some(first) = artifacts.first() else {
            return Err(differs(0, "no models to average"));
        };
        for (i, a) in artifacts.iter().enumerate().skip(1) {
            if a.meta.labels != first.meta.labels {
                return Err(differs(i, "its labels differ"));
            }
            if a.meta.features != first.meta.features {
                return Err(differs(i, "its feature configuration differs"));
            }
            if a.meta.model != first.meta.model {
                return Err(differs(i, "its network configuration differs"));
            }
            if a.scaler != first.scaler {
                return Err(differs(
                    i,
                    "its feature scaler differs (trained on other data)",
                ));
            }
            for (name, t) in &first.weights {
                match a.weights.get(name) {
                    None => return Err(differs(i, format!("it has no tensor {name}"))),
                    Some(o) if o.shape != t.shape => {
                        return Err(differs(
                            i,
                            format!("tensor {name} is {:?}, not {:?}", o.shape, t.shape),
                        ));
                    }
                    Some(_) => {}
                }
            }
            if let Some(extra) = a.weights.keys().find(|n| !first.weights.contains_key(*n)) {
                return Err(differs(i, format!("it has an extra tensor {extra}")));
            }
        }
        let n = artifacts.len() as f64;
        let weights: BTreeMap<String, StoredTensor> = first
            .weights
            .iter()
            .map(|(name, t)| {
                let mut sum = vec![0f64; t.values.len()];
                for a in artifacts {
                    for (s, &v) in sum.iter_mut().zip(&a.weights[name].values) {
                        *s += f64::from(v);
                    }
                }
                let values = sum.into_iter().map(|s| (s / n) as f32).collect();
                (
                    name.clone(),
                    StoredTensor {
                        shape: t.shape.clone(),
                        values,
                    },
                )
            })
            .collect();
        let mut meta = first.meta.clone();
        meta.provenance.accuracies.clear();
        meta.provenance.best_epoch = None;
        let averaged = Artifact {
            meta,
            scaler: first.scaler.clone(),
            weights,
        };
        averaged.check()?;
        Ok(averaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArtifactMeta, Provenance, Scaler};

    fn artifact(values: &[f32]) -> Artifact {
        let meta = ArtifactMeta::paper(Provenance {
            name: "run".into(),
            best_epoch: Some(3),
            accuracies: vec![crate::Accuracy {
                protocol: "paper".into(),
                split: "valid".into(),
                accuracy: 0.5,
                examples: 10,
            }],
            ..Provenance::default()
        });
        let map = meta.features.n_mfcc * meta.features.n_frames();
        let mut a = Artifact {
            meta,
            scaler: Scaler {
                mean: vec![0.0; map],
                std: vec![1.0; map],
            },
            weights: BTreeMap::new(),
        };
        a.weights.insert(
            "w".into(),
            StoredTensor {
                shape: vec![values.len()],
                values: values.to_vec(),
            },
        );
        a
    }

    #[test]
    fn element_wise_mean_and_cleared_scores() {
        let avg = Artifact::average(&[
            artifact(&[1.0, -2.0]),
            artifact(&[3.0, 2.0]),
            artifact(&[2.0, 3.0]),
        ])
        .unwrap();
        assert_eq!(avg.weights["w"].values, vec![2.0, 1.0]);
        assert!(avg.meta.provenance.accuracies.is_empty());
        assert_eq!(avg.meta.provenance.best_epoch, None);
        assert_eq!(avg.meta.provenance.name, "run");
        // One model averages to itself.
        let one = artifact(&[0.25, 7.0]);
        assert_eq!(
            Artifact::average(std::slice::from_ref(&one))
                .unwrap()
                .weights,
            one.weights
        );
    }

    #[test]
    fn mismatches_name_the_model_and_the_reason() {
        let reason = |models: &[Artifact]| match Artifact::average(models) {
            Err(ModelError::Average { index, reason }) => (index, reason),
            other => panic!("expected a mismatch, got {other:?}"),
        };
        let a = artifact(&[1.0, 2.0]);
        assert_eq!(reason(&[]).0, 0);
        let (i, r) = reason(&[a.clone(), a.clone(), artifact(&[1.0, 2.0, 3.0])]);
        assert_eq!(i, 2);
        assert!(r.contains("tensor w"), "{r}");
        let mut cmvn = a.clone();
        cmvn.meta.features.cmvn = true;
        assert!(reason(&[a.clone(), cmvn]).1.contains("feature"));
        let mut scaled = a.clone();
        scaled.scaler.mean[0] = 1.0;
        assert!(reason(&[a.clone(), scaled]).1.contains("scaler"));
        let mut extra = a.clone();
        extra.weights.insert("v".into(), a.weights["w"].clone());
        assert!(reason(&[a, extra]).1.contains("extra tensor v"));
    }
}
