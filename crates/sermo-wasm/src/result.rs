//! What `Classifier.classify` and `Classifier.timeline` resolve to, and their one TypeScript
//! declaration.

use serde::Serialize;
use sermo_model::{Moment, Prediction, Timings};
use wasm_bindgen::prelude::*;

/// The one TypeScript declaration of a classification and of a timeline: wasm-bindgen writes it into the
/// module's `.d.ts`; the npm package's `index.d.ts` carries a word-for-word copy (so users need
/// not read the generated declarations), which web/tests/package.test.mjs compares with the
/// generated one. A test below checks it against what [`ClassifyResult`] serialises.
// Read by the `typescript_custom_section` below, which rustc does not count as a use.
#[allow(dead_code)]
const RESULT_TS: &str = r#"
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

/** One window of a timeline: where it lies in the recording (seconds), then the fields of a classification. */
export interface TimelineWindow {
  start: number;
  end: number;
  label: string | null;
  voiced: boolean;
  probabilities: Record<string, number>;
  probabilitiesArray: number[];
  logits: number[];
}

/** Emotion over a recording, as `Classifier.timeline` resolves it (`sermo predict --timeline --json` gives `hop` and `timeline` too). */
export interface TimelineResult {
  /** Seconds between window starts. */
  hop: number;
  /** Every window, in time order. */
  timeline: TimelineWindow[];
  /** "webgpu" or "cpu". */
  backend: "webgpu" | "cpu";
  /** Milliseconds the whole timeline took in the worker. */
  ms: number;
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = RESULT_TS;

/// What `classify` resolves to: the prediction as the CLI serialises it, where it ran, how long
/// each stage took.
#[derive(Serialize)]
pub(crate) struct ClassifyResult<'a> {
    #[serde(flatten)]
    pub prediction: &'a Prediction,
    pub backend: &'static str,
    pub timings: Timings,
}

/// What `timeline` resolves to: the windows as `sermo predict --timeline --json` serialises
/// them, the hop, where it ran and how long it took.
#[derive(Serialize)]
pub(crate) struct TimelineResult<'a> {
    pub hop: f64,
    pub timeline: &'a [Moment],
    pub backend: &'static str,
    pub ms: f64,
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
    /// [`RESULT_TS`] declares them.
    fn ts_fields(name: &str, nested: &str) -> (Vec<Field>, Vec<Field>) {
        let body = RESULT_TS
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

    /// The keys of a JSON object.
    fn keys(v: &serde_json::Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    /// Fails unless every serialised key is declared and every declared key that is not
    /// optional is serialised.
    fn assert_declared(keys: &[String], declared: &[Field], what: &str) {
        for key in keys {
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

    fn prediction() -> Prediction {
        Prediction {
            label: Some("angry".into()),
            class: 1,
            voiced: true,
            probabilities: vec![0.25, 0.75],
            logits: vec![-1.0, 0.1],
            labels: ["neutral", "angry"].map(String::from).to_vec(),
        }
    }

    /// The Rust result and its TypeScript declaration cannot drift apart.
    #[test]
    fn typescript_declares_exactly_what_classify_returns() {
        let prediction = prediction();
        let result = ClassifyResult {
            prediction: &prediction,
            backend: Backend::Cpu.name(),
            timings: Timings::default(),
        };
        let json = serde_json::to_value(&result).unwrap();
        let (top, timings) = ts_fields("ClassifyResult", "timings");
        assert_declared(&keys(&json), &top, "ClassifyResult");
        assert_declared(&keys(&json["timings"]), &timings, "ClassifyResult.timings");
        assert_eq!(json["probabilities"]["angry"], 0.75);
        assert_eq!(json["backend"], "cpu");
    }

    #[test]
    fn typescript_declares_exactly_what_timeline_returns() {
        let moments = [Moment {
            span: sermo_dsp::Span {
                start_s: 0.5,
                end_s: 3.5,
            },
            prediction: prediction(),
        }];
        let result = TimelineResult {
            hop: 0.5,
            timeline: &moments,
            backend: Backend::WebGpu.name(),
            ms: 1.0,
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_declared(
            &keys(&json),
            &ts_fields("TimelineResult", "").0,
            "TimelineResult",
        );
        let window = &json["timeline"][0];
        assert_declared(
            &keys(window),
            &ts_fields("TimelineWindow", "").0,
            "TimelineWindow",
        );
        assert_eq!(window["start"], 0.5);
        assert_eq!(window["label"], "angry");
    }
}
