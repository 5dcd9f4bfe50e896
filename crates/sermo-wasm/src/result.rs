//! What `Classifier.classify` resolves to, and its one TypeScript declaration.

use serde::Serialize;
use sermo_model::{Prediction, Timings};
use wasm_bindgen::prelude::*;

/// The one TypeScript declaration of a classification: wasm-bindgen writes it into the
/// module's `.d.ts`; the npm package's `index.d.ts` carries a word-for-word copy (so users need
/// not read the generated declarations), which web/tests/package.test.mjs compares with the
/// generated one. A test below checks it against what [`ClassifyResult`] serialises.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const CLASSIFY_RESULT_TS: &str = r#"
/** One classification, as `Classifier.classify` resolves it (`sermo predict --json` gives the same fields but `backend` and `timings`). */
export interface ClassifyResult {
  /** The most probable emotion; null when the window holds no voice. */
  label: string | null;
  /** Whether the analysed window holds voice (a 20 ms frame louder than -50 dBFS). */
  voiced: boolean;
  /** Probability per label. */
  probabilities: Record<string, number>;
  /** Probabilities in label order (`Classifier.labels`). */
  probabilitiesArray: number[];
  /** Raw network outputs in label order. */
  logits: number[];
  /** "webgpu" or "cpu". */
  backend: "webgpu" | "cpu";
  /** Milliseconds spent in the worker on features (resample, window, MFCC) and on the network (scaling included). */
  timings: {
    featuresMs: number;
    inferenceMs: number;
    /** Milliseconds of the whole call inside the worker (`classify` only; added by the package's worker). */
    workerMs?: number;
  };
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = CLASSIFY_RESULT_TS;

/// What `classify` resolves to: the prediction as the CLI serialises it, where it ran, how long
/// each stage took.
#[derive(Serialize)]
pub(crate) struct ClassifyResult<'a> {
    #[serde(flatten)]
    pub prediction: &'a Prediction,
    pub backend: &'static str,
    pub timings: Timings,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Backend;

    /// A declared field and whether it is optional.
    type Field = (String, bool);

    /// The field names of the TypeScript interface `name` in [`TS_TYPES`], each with whether it
    /// is optional (`?`), for the top level and for the one nested object `nested`, as
    /// [`CLASSIFY_RESULT_TS`] declares them.
    fn ts_fields(name: &str, nested: &str) -> (Vec<Field>, Vec<Field>) {
        let body = CLASSIFY_RESULT_TS
            .split(&format!("export interface {name} {{"))
            .nth(1)
            .unwrap_or_default();
        let (mut top, mut inner) = (Vec::new(), Vec::new());
        let mut depth = 0;
        for line in body.lines().map(str::trim) {
            if line.starts_with("/**") || line.is_empty() {
                continue;
            }
            if line.starts_with('}') {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                continue;
            }
            let Some((field, _)) = line.split_once(':') else {
                continue;
            };
            let optional = field.ends_with('?');
            let field = field.trim_end_matches('?').to_string();
            if depth == 0 {
                top.push((field.clone(), optional));
            } else {
                inner.push((field.clone(), optional));
            }
            if line.ends_with('{') && field == nested {
                depth += 1;
            }
        }
        (top, inner)
    }

    /// Fails when the Rust result and its TypeScript declaration drift apart: every serialised
    /// key is declared, and every declared key that is not optional is serialised.
    #[test]
    fn typescript_declares_exactly_what_classify_returns() {
        let labels: Vec<String> = ["neutral", "angry"].map(String::from).to_vec();
        let prediction = Prediction {
            label: Some("angry".into()),
            class: 1,
            voiced: true,
            probabilities: vec![0.25, 0.75],
            logits: vec![-1.0, 0.1],
            labels,
        };
        let result = ClassifyResult {
            prediction: &prediction,
            backend: Backend::Cpu.name(),
            timings: Timings::default(),
        };
        let json = serde_json::to_value(&result).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        let (top, timings) = ts_fields("ClassifyResult", "timings");
        for (keys, declared, what) in [
            (keys(&json), &top, "ClassifyResult"),
            (keys(&json["timings"]), &timings, "ClassifyResult.timings"),
        ] {
            for key in &keys {
                assert!(
                    declared.iter().any(|(f, _)| f == key),
                    "{what}: Rust serialises {key:?}, TypeScript does not declare it"
                );
            }
            for (field, optional) in declared {
                assert!(
                    *optional || keys.contains(field),
                    "{what}: TypeScript declares {field:?}, Rust does not serialise it"
                );
            }
        }
        assert_eq!(json["probabilities"]["angry"], 0.75);
        assert_eq!(json["backend"], "cpu");
    }
}
