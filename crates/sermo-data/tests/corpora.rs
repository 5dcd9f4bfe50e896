//! Corpora as data: nEMO folders, manifests and RAVDESS folders (symbolic links included) load
//! into one index with their corpus, speaker and emotion; bad input is an error naming the
//! file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{load, write_manifest, write_nemo, write_ravdess};
use sermo_data::Index;

#[test]
fn nemo_folders_load_with_sermo_labels_and_trimmed_speakers() {
    let dir = tempfile::tempdir().unwrap();
    let nemo = dir.path().join("nemo");
    let emotions = [
        "anger",
        "fear",
        "happiness",
        "neutral",
        "sadness",
        "surprised",
    ];
    write_nemo(&nemo, &["EB0", "IC0"], &emotions);
    let index = load(&[&nemo], "").unwrap();
    assert_eq!(index.clips.len(), 2 * 6 * 2);
    let clip = index
        .clips
        .iter()
        .find(|c| c.id == "nemo/samples/IC0_fear_1.wav")
        .unwrap();
    assert_eq!(
        (clip.corpus.as_str(), clip.speaker.as_str()),
        ("nemo", "IC0")
    );
    assert_eq!(clip.emotion(), "fearful");
    assert!(clip.info.is_none());
    let corpora = index.corpora();
    let summary = &corpora["nemo"];
    assert_eq!(summary.speakers.keys().collect::<Vec<_>>(), ["EB0", "IC0"]);
    let names: Vec<&str> = summary.emotions.keys().copied().collect();
    assert_eq!(
        names,
        ["angry", "fearful", "happy", "neutral", "sad", "surprised"]
    );

    // Errors name data.tsv and the line.
    let tsv = nemo.join("data.tsv");
    let text = std::fs::read_to_string(&tsv).unwrap();
    std::fs::write(&tsv, text.replacen("\tanger\t", "\tboredom\t", 1)).unwrap();
    let err = load(&[&nemo], "").unwrap_err();
    assert!(
        err.contains("data.tsv:2") && err.contains("boredom"),
        "{err}"
    );
    std::fs::write(&tsv, &text).unwrap();
    std::fs::remove_file(nemo.join("samples/EB0_sadness_1.wav")).unwrap();
    let err = load(&[&nemo], "").unwrap_err();
    let line = 1 + text
        .lines()
        .position(|l| l.starts_with("EB0_sadness_1.wav"))
        .unwrap();
    assert!(
        err.contains(&format!("data.tsv:{line}")) && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn manifests_load_with_a_label_map_and_default_corpus_names() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_manifest(
        dir.path(),
        "crema.tsv",
        &["1001", "1002"],
        &["ANG", "neu", "Sadness"],
        None,
    );
    let index = load(&[&tsv], "ang=angry,neu=neutral").unwrap();
    assert_eq!(index.clips.len(), 2 * 3 * 2);
    assert!(index.clips.iter().all(|c| c.corpus == "crema"));
    let clip = index
        .clips
        .iter()
        .find(|c| c.id == "crema/clips/1002-ANG-1.wav")
        .unwrap();
    assert_eq!((clip.speaker.as_str(), clip.emotion()), ("1002", "angry"));
    assert!(
        clip.sha256.is_some(),
        "manifests' files are hashed (duplicate check)"
    );
    // `skip` leaves a label's clips out, listed with the line.
    let index = load(&[&tsv], "ang=skip,neu=neutral").unwrap();
    assert_eq!(index.clips.len(), 8);
    assert_eq!(index.rejected.len(), 4);
    assert!(
        index.rejected[0].1.contains("crema.tsv:"),
        "{:?}",
        index.rejected
    );

    // CSV with a corpus column and quoted fields.
    let csv = write_manifest(
        &dir.path().join("mine"),
        "mine.csv",
        &["ann", "bob"],
        &["happy", "sad"],
        Some("home"),
    );
    let text = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("clips/ann-happy-0.wav", "\"clips/ann-happy-0.wav\"");
    std::fs::write(&csv, text).unwrap();
    let index = load(&[&csv], "").unwrap();
    assert_eq!(index.clips.len(), 8);
    assert!(
        index
            .clips
            .iter()
            .all(|c| c.corpus == "home" && c.id.starts_with("home/clips/"))
    );
}

#[test]
fn manifest_errors_name_the_manifest_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = write_manifest(
        dir.path(),
        "set.tsv",
        &["s1", "s2"],
        &["angry", "sad"],
        None,
    );
    let good = std::fs::read_to_string(&tsv).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let check = |text: String, map: &str, want: &[&str]| {
        std::fs::write(&tsv, text).unwrap();
        let err = load(&[&tsv], map).unwrap_err();
        for w in want {
            assert!(err.contains(w), "{err:?} lacks {w:?}");
        }
    };
    // Unknown label: the line, the label and the way out.
    check(
        good.replacen("\tsad\t", "\tbored\t", 1),
        "",
        &["set.tsv:4", "bored", "--label-map"],
    );
    // Missing file.
    check(
        good.replacen("clips/s1-angry-1.wav", "clips/gone.wav", 1),
        "",
        &["set.tsv:3", "gone.wav", "no such file"],
    );
    // The same path twice.
    let twice = format!("{good}{}\n", lines[1]);
    check(
        twice,
        "",
        &[
            &format!("set.tsv:{}", lines.len() + 1),
            "listed twice",
            "line 2",
        ],
    );
    // A speaker in two corpora.
    let corpora = format!(
        "path\tlabel\tspeaker\tcorpus\n{}\ta\n{}\tb\n",
        lines[1], lines[2]
    );
    check(
        corpora,
        "",
        &[
            "set.tsv:3",
            "speaker \"s1\"",
            "corpus \"b\"",
            "\"a\" on line 2",
        ],
    );
    // A file whose content is another's (a copy under another name).
    std::fs::copy(
        dir.path().join("clips/s1-angry-0.wav"),
        dir.path().join("clips/copy.wav"),
    )
    .unwrap();
    let copy = format!("{good}clips/copy.wav\tangry\ts2\n");
    check(copy, "", &["same content", "copy.wav", "s1-angry-0.wav"]);
    // A header without the speaker column.
    check(
        good.replacen("speaker", "who", 1),
        "",
        &["set.tsv", "speaker"],
    );
    // A row with too few fields.
    check(
        format!("{good}clips/x.wav\tangry\n"),
        "",
        &[&format!("set.tsv:{}", lines.len() + 1), "fields"],
    );
    // Not a dataset at all.
    let err = load(&[&dir.path().join("nowhere")], "").unwrap_err();
    assert!(
        err.contains("nowhere") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn several_sources_merge_and_ravdess_stays_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let ravdess = dir.path().join("ravdess");
    write_ravdess(&ravdess, 3);
    let nemo = dir.path().join("nemo");
    write_nemo(&nemo, &["EB0", "IC0"], &["anger", "neutral"]);
    let tsv = write_manifest(&dir.path().join("m"), "extra.tsv", &["x1"], &["sad"], None);
    let alone = Index::scan(&ravdess).unwrap();
    assert_eq!(
        load(&[&ravdess], "").unwrap().clips,
        alone.clips,
        "one RAVDESS source: as scan"
    );
    // Any order of --data gives the same index: corpora in name order.
    let index = load(&[&tsv, &ravdess, &nemo], "").unwrap();
    let again = load(&[&nemo, &ravdess, &tsv], "").unwrap();
    assert_eq!(index.clips, again.clips);
    let corpora: Vec<&str> = index
        .clips
        .iter()
        .map(|c| c.corpus.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(corpora, ["extra", "nemo", "ravdess"]);
    let from_ravdess: Vec<_> = index
        .clips
        .iter()
        .filter(|c| c.corpus == "ravdess")
        .map(|c| (&c.id, c.speaker.as_str(), c.label))
        .collect();
    let expected: Vec<_> = alone
        .clips
        .iter()
        .map(|c| (&c.id, c.speaker.as_str(), c.label))
        .collect();
    assert_eq!(
        from_ravdess, expected,
        "RAVDESS ids, speakers and labels unchanged"
    );
    assert_eq!(alone.clips[0].speaker, "01");
    let ids: BTreeSet<&str> = index.clips.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), index.clips.len(), "ids unique across corpora");
    // A RAVDESS folder given twice is the same clips twice.
    let err = load(&[&ravdess, &ravdess], "").unwrap_err();
    assert!(err.contains("same"), "{err}");
}

#[cfg(unix)]
#[test]
fn folders_reached_through_symbolic_links_count() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    write_ravdess(&real, 2);
    let linked = dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    for actor in ["Actor_01", "Actor_02"] {
        std::os::unix::fs::symlink(real.join(actor), linked.join(actor)).unwrap();
    }
    // A link back up the tree is read once, not forever.
    std::os::unix::fs::symlink(&linked, linked.join("loop")).unwrap();
    let a = Index::scan(&real).unwrap();
    let b = load(&[&linked], "").unwrap();
    assert_eq!(b.clips.len(), a.clips.len());
    let ids = |i: &Index| i.clips.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    // A folder that is itself a link works as well.
    let whole = dir.path().join("whole");
    std::os::unix::fs::symlink(&real, &whole).unwrap();
    assert_eq!(ids(&Index::scan(&whole).unwrap()), ids(&a));
}
