//! Reading NumPy `.npy` / `.npz` arrays (scalers for `sermo import`); writing is
//! `features::npy_bytes`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Decodes a `.npy` holding a little-endian float32 or float64 C-order array, as f32 values and
/// the shape.
pub fn decode_float(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy array");
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!(".npy version {v} is not supported"),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .context("truncated .npy header")?;
    if header.contains("'fortran_order': True") {
        bail!("Fortran-ordered arrays are not supported");
    }
    let width = if header.contains("'<f4'") {
        4
    } else if header.contains("'<f8'") {
        8
    } else {
        bail!("only little-endian float32/float64 arrays are supported ({header})");
    };
    let shape_text = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .context("no shape in the .npy header")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().context("bad shape in the .npy header"))
        .collect::<Result<Vec<_>>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    if body.len() != count * width {
        bail!(
            "array holds {} bytes, its shape {shape:?} needs {}",
            body.len(),
            count * width
        );
    }
    let values = if width == 4 {
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        body.chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect()
    };
    Ok((shape, values))
}

/// Reads named float arrays from an `.npz` archive.
pub fn read_npz(path: &Path, names: &[&str]) -> Result<Vec<Vec<f32>>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{}: not an .npz archive", path.display()))?;
    names
        .iter()
        .map(|name| {
            let mut entry = archive
                .by_name(&format!("{name}.npy"))
                .with_context(|| format!("{}: no array {name:?}", path.display()))?;
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .with_context(|| format!("{}: reading {name}", path.display()))?;
            decode_float(&bytes)
                .map(|(_, v)| v)
                .with_context(|| format!("{}: array {name}", path.display()))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let bytes = crate::features::npy_bytes(&[3, 4], &data).unwrap();
        let (shape, back) = decode_float(&bytes).unwrap();
        assert_eq!(shape, vec![3, 4]);
        assert_eq!(back, data);
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_float(b"hello").is_err());
    }
}
