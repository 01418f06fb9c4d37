//! Thumbnails and text snippets of the example rows.

use std::collections::BTreeMap;
use std::io::Cursor;

use base64::Engine;
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::{ExampleRow, ImageSource, Limits};

/// Largest image file read for a thumbnail.
const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Largest decoded image (bytes of pixels) accepted.
const MAX_DECODED_BYTES: u64 = 256 << 20;

/// The `examples` object of the report data; images that cannot be made
/// into thumbnails are left out with a warning each (at most 10 listed).
pub(crate) fn examples(
    rows: &BTreeMap<u32, ExampleRow>,
    limits: &Limits,
    warnings: &mut Vec<String>,
) -> Value {
    let made: Vec<(u32, Value, Option<String>)> = rows
        .par_iter()
        .map(|(&row, ex)| {
            let (image, problem) = match &ex.image {
                None => (None, None),
                Some(src) => match thumbnail(src, limits.thumbnail_px) {
                    Ok(uri) => (Some(uri), None),
                    Err(e) => (None, Some(format!("row {row}: {e}"))),
                },
            };
            let text = ex.text.as_deref().map(|t| snippet(t, limits.text_chars));
            let v = json!({
                "image": image,
                "text": text,
                "label": ex.label,
                "pred": ex.pred,
                "display": ex.display,
            });
            (row, v, problem)
        })
        .collect();
    let mut out = serde_json::Map::new();
    let mut problems = Vec::new();
    for (row, v, p) in made {
        out.insert(row.to_string(), v);
        problems.extend(p);
    }
    if !problems.is_empty() {
        let n = problems.len();
        warnings.push(format!(
            "{n} example image{} could not be shown: {}{}",
            if n == 1 { "" } else { "s" },
            problems
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
            if n > 10 { "; ..." } else { "" }
        ));
    }
    Value::Object(out)
}

/// A decoded 8-bit image: `channels` interleaved samples per pixel
/// (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA), rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pixels {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) channels: usize,
    pub(crate) data: Vec<u8>,
}

/// A PNG data URI of the image shrunk to at most `px` on its longest side
/// (smaller images are kept as they are; the page scales them up).
pub(crate) fn thumbnail(src: &ImageSource, px: u32) -> Result<String, String> {
    let bytes = match src {
        ImageSource::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        ImageSource::Path(p) => {
            let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if meta.len() > MAX_IMAGE_BYTES {
                return Err(format!(
                    "{}: {} bytes, larger than the {} MiB read for a thumbnail",
                    p.display(),
                    meta.len(),
                    MAX_IMAGE_BYTES >> 20
                ));
            }
            std::borrow::Cow::Owned(std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
    };
    let img = decode(&bytes)?;
    let img = shrink(&img, px as usize);
    let png = encode_png(&img).map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    ))
}

/// Decode a PNG or JPEG (recognised by its signature) into 8-bit pixels.
pub(crate) fn decode(bytes: &[u8]) -> Result<Pixels, String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes).map_err(|e| format!("cannot decode the PNG image: {e}"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else {
        Err("not a PNG or JPEG image".into())
    }
}

fn decode_png(bytes: &[u8]) -> Result<Pixels, png::DecodingError> {
    let mut dec = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: MAX_DECODED_BYTES as usize,
        },
    );
    // Palettes and low bit depths to 8-bit gray / RGB(A), 16 bits to 8.
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info()?;
    let size = reader
        .output_buffer_size()
        .ok_or(png::DecodingError::LimitsExceeded)?;
    let mut data = vec![0u8; size];
    let info = reader.next_frame(&mut data)?;
    data.truncate(info.buffer_size());
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        // EXPAND turns palettes into RGB(A); a decoder that did not is not
        // one this code knows.
        png::ColorType::Indexed => return Err(png::DecodingError::LimitsExceeded),
    };
    Ok(Pixels {
        width: info.width as usize,
        height: info.height as usize,
        channels,
        data,
    })
}

fn decode_jpeg(bytes: &[u8]) -> Result<Pixels, String> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let side = 16_384;
    let opts = DecoderOptions::new_cmd()
        .set_max_width(side)
        .set_max_height(side);
    let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), opts);
    let data = dec
        .decode()
        .map_err(|e| format!("cannot decode the JPEG image: {e:?}"))?;
    let (width, height) = dec
        .dimensions()
        .ok_or_else(|| "cannot decode the JPEG image: no size".to_string())?;
    let channels = dec.output_colorspace().map_or(3, |c| c.num_components());
    if !(1..=4).contains(&channels) || data.len() != width * height * channels {
        return Err("cannot decode the JPEG image: unexpected pixel layout".into());
    }
    Ok(Pixels {
        width,
        height,
        channels,
        data,
    })
}

/// `img` shrunk (box filter: each output pixel is the mean of the input
/// pixels it covers) so that its longest side is at most `px`, the aspect
/// kept; unchanged when it already fits.
pub(crate) fn shrink(img: &Pixels, px: usize) -> Pixels {
    let (w, h, c) = (img.width, img.height, img.channels);
    if (w <= px && h <= px) || w == 0 || h == 0 || px == 0 {
        return img.clone();
    }
    let scale = px as f64 / w.max(h) as f64;
    let ow = ((w as f64 * scale).round() as usize).clamp(1, px);
    let oh = ((h as f64 * scale).round() as usize).clamp(1, px);
    let mut data = vec![0u8; ow * oh * c];
    for oy in 0..oh {
        let y0 = oy * h / oh;
        let y1 = ((oy + 1) * h / oh).max(y0 + 1);
        for ox in 0..ow {
            let x0 = ox * w / ow;
            let x1 = ((ox + 1) * w / ow).max(x0 + 1);
            let count = ((y1 - y0) * (x1 - x0)) as u64;
            for ch in 0..c {
                let mut sum = 0u64;
                for y in y0..y1 {
                    let row = &img.data[(y * w) * c..(y * w + w) * c];
                    for x in x0..x1 {
                        sum += u64::from(row[x * c + ch]);
                    }
                }
                data[(oy * ow + ox) * c + ch] = ((sum + count / 2) / count) as u8;
            }
        }
    }
    Pixels {
        width: ow,
        height: oh,
        channels: c,
        data,
    }
}

/// `img` as a PNG file.
pub(crate) fn encode_png(img: &Pixels) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(match img.channels {
            1 => png::ColorType::Grayscale,
            2 => png::ColorType::GrayscaleAlpha,
            3 => png::ColorType::Rgb,
            _ => png::ColorType::Rgba,
        });
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&img.data)?;
        writer.finish()?;
    }
    Ok(out)
}

/// `text` cut to at most `max` characters (with "…" when cut), whitespace
/// runs collapsed.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let mut out: String = collapsed.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16x8 baseline gray JPEG (value 128), written by PIL at quality 95.
    const TINY_JPEG: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wAALCAAIABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/ACiv/9k=";

    fn gray(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> Pixels {
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                data.push(f(x, y));
            }
        }
        Pixels {
            width: w,
            height: h,
            channels: 1,
            data,
        }
    }

    fn decode_uri(uri: &str) -> Pixels {
        let b64 = uri.strip_prefix("data:image/png;base64,").unwrap();
        decode(
            &base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn small_images_keep_their_size_and_pixels() {
        let img = gray(28, 28, |x, y| (x * 9 + y) as u8);
        let uri = thumbnail(&ImageSource::Bytes(encode_png(&img).unwrap()), 96).unwrap();
        assert_eq!(decode_uri(&uri), img);
    }

    #[test]
    fn large_images_shrink_to_the_longest_side_keeping_the_aspect_and_the_means() {
        let rgb = Pixels {
            width: 400,
            height: 200,
            channels: 3,
            data: [10u8, 200, 30].repeat(400 * 200),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        std::fs::write(&path, encode_png(&rgb).unwrap()).unwrap();
        let back = decode_uri(&thumbnail(&ImageSource::Path(path), 96).unwrap());
        assert_eq!((back.width, back.height, back.channels), (96, 48, 3));
        assert!(back.data.chunks(3).all(|p| p == [10, 200, 30]));
        // A 2x2 checkerboard of 0 and 255 blocks averages to mid-gray.
        let board = gray(
            200,
            200,
            |x, y| if (x / 100 + y / 100) % 2 == 0 { 0 } else { 255 },
        );
        let small = shrink(&board, 2);
        assert_eq!(small.data, vec![0, 255, 255, 0]);
        let one = shrink(&board, 1);
        assert_eq!(one.data, vec![128]);
    }

    #[test]
    fn a_jpeg_is_decoded() {
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(TINY_JPEG)
            .unwrap();
        let img = decode(&jpeg).unwrap();
        assert_eq!((img.width, img.height), (16, 8));
        assert!(
            img.data.iter().all(|&v| (120..=136).contains(&v)),
            "{:?}",
            img.data
        );
    }

    #[test]
    fn unreadable_images_say_why() {
        let e = thumbnail(&ImageSource::Bytes(b"not an image".to_vec()), 96).unwrap_err();
        assert!(e.contains("not a PNG or JPEG"), "{e}");
        let e = thumbnail(&ImageSource::Path("/nonexistent/x.png".into()), 96).unwrap_err();
        assert!(e.contains("/nonexistent/x.png"), "{e}");
        let mut truncated = encode_png(&gray(30, 30, |x, _| x as u8)).unwrap();
        truncated.truncate(truncated.len() / 2);
        let e = thumbnail(&ImageSource::Bytes(truncated), 96).unwrap_err();
        assert!(e.starts_with("cannot decode the PNG image"), "{e}");
        let mut warnings = Vec::new();
        let mut rows = BTreeMap::new();
        rows.insert(
            7,
            ExampleRow {
                image: Some(ImageSource::Bytes(vec![0x89, b'P', b'N', b'G', 0, 0])),
                text: Some("  a   b ".into()),
                ..Default::default()
            },
        );
        let v = examples(&rows, &Limits::default(), &mut warnings);
        assert_eq!(v["7"]["image"], Value::Null);
        assert_eq!(v["7"]["text"], json!("a b"));
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("1 example image could not be shown: row 7"),
            "{warnings:?}"
        );
    }

    #[test]
    fn snippets_are_cut_on_characters() {
        assert_eq!(snippet("héllo wörld", 5), "héll…");
        assert_eq!(snippet("short", 5), "short");
    }
}
