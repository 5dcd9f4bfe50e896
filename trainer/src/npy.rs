//! NumPy arrays: writing float32 `.npy` (`sermo features`) and reading `.npy` / `.npz`
//! (scalers for `sermo import`).

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

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

/// The bytes of a `.npy` (format 1.0) holding a little-endian float32 C-order array.
///
/// The header is `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }`, padded with
/// spaces and a newline so that the data starts at a multiple of 64 bytes, as NumPy writes it.
pub fn npy_bytes(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    let count: usize = shape.iter().product();
    ensure!(
        count == data.len(),
        "shape {shape:?} holds {count} values, the data {}",
        data.len()
    );
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + header length (2) + header + '\n' ≡ 0 (mod 64)
    let used = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - used % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len()).context(".npy header too long")?;
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Writes `data` (row-major, `shape`) as a float32 `.npy` file.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let bytes = npy_bytes(shape, data)?;
    let mut file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&bytes)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip() {
        let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let bytes = npy_bytes(&[3, 4], &data).unwrap();
        let (shape, back) = decode_float(&bytes).unwrap();
        assert_eq!(shape, vec![3, 4]);
        assert_eq!(back, data);
    }

    #[test]
    fn npy_header_is_numpy_v1() {
        let bytes = npy_bytes(&[40, 282], &vec![0.5; 40 * 282]).unwrap();
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
        assert!(
            header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (40, 282), }")
        );
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + hlen + 4 * 40 * 282);
        assert_eq!(&bytes[10 + hlen..10 + hlen + 4], &0.5f32.to_le_bytes());
        assert!(npy_bytes(&[2, 2], &[0.0; 3]).is_err());
        let one = npy_bytes(&[3], &[1.0, 2.0, 3.0]).unwrap();
        // 10 + 59 header bytes + '\n' = 70: the data starts at the next multiple of 64.
        assert_eq!(one.len(), 128 + 12);
        assert!(
            std::str::from_utf8(&one[10..128])
                .unwrap()
                .contains("'shape': (3,)")
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_float(b"hello").is_err());
    }
}
