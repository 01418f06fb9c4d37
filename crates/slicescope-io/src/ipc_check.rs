//! A structural check of Arrow IPC files and streams before they are read.
//!
//! The Arrow IPC readers allocate each message body at the length its
//! metadata declares, before reading it; a corrupt length makes that
//! allocation fail, which aborts the process instead of returning an
//! error. This pass reads only the footer (files) or the message headers
//! (streams, seeking over the bodies) and checks every declared length
//! against the file size, so that such files fail with a format error.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use arrow::ipc::{root_as_footer, root_as_message, Block};
use slicescope_core::Result;

use crate::{format_error, io_error, open_file, Format};

/// Check the blocks of an Arrow IPC file against its size.
pub(crate) fn check_file(path: &Path) -> Result<()> {
    let name = Format::ArrowIpcFile.name();
    let bad = |msg: &str| format_error(path, name, msg);
    let mut file = open_file(path)?;
    let len = file_len(path, &file)?;
    // "ARROW1" + 2 padding bytes, ..., footer, footer length (4), "ARROW1".
    if len < 8 + 10 {
        return Err(bad(
            "the file is too short to be an Arrow IPC file (truncated?)",
        ));
    }
    let mut tail = [0u8; 10];
    file.seek(SeekFrom::End(-10))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| io_error(path, &e))?;
    if &tail[4..] != b"ARROW1" {
        return Err(bad(
            "the file does not end with the Arrow IPC footer; it is truncated or not an Arrow IPC \
             file",
        ));
    }
    let footer_len = i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let footer_len = u64::try_from(footer_len).map_err(|_| bad("negative footer length"))?;
    if footer_len + 10 + 8 > len {
        return Err(bad(
            "the footer length exceeds the file size (truncated or corrupt)",
        ));
    }
    let mut footer = vec![0u8; footer_len as usize];
    file.seek(SeekFrom::End(-10 - footer_len as i64))
        .and_then(|_| file.read_exact(&mut footer))
        .map_err(|e| io_error(path, &e))?;
    let footer = root_as_footer(&footer)
        .map_err(|e| format_error(path, name, format!("unreadable footer: {e}")))?;
    let data_end = len - 10 - footer_len;
    let check = |block: &Block| -> Result<()> {
        let offset = u64::try_from(block.offset()).ok();
        let meta = u64::try_from(block.metaDataLength()).ok();
        let body = u64::try_from(block.bodyLength()).ok();
        let end = match (offset, meta, body) {
            (Some(o), Some(m), Some(b)) => o.checked_add(m).and_then(|x| x.checked_add(b)),
            _ => None,
        };
        match end {
            Some(end) if end <= data_end => Ok(()),
            _ => Err(bad(
                "a record batch lies beyond the end of the file (truncated or corrupt)",
            )),
        }
    };
    for blocks in [footer.dictionaries(), footer.recordBatches()]
        .into_iter()
        .flatten()
    {
        for block in blocks.iter() {
            check(block)?;
        }
    }
    Ok(())
}

/// Check the messages of an Arrow IPC stream against its size. Streams
/// that cannot seek (pipes) are not checked.
pub(crate) fn check_stream(path: &Path) -> Result<()> {
    let name = Format::ArrowIpcStream.name();
    let bad = |msg: String| format_error(path, name, msg);
    let mut file = open_file(path)?;
    let len = file_len(path, &file)?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Ok(());
    }
    let mut pos: u64 = 0;
    let mut word = [0u8; 4];
    loop {
        if pos == len {
            return Ok(()); // end of stream without the end marker: allowed
        }
        if pos + 4 > len {
            return Err(bad(format!(
                "the stream ends inside a message header at byte {pos} (truncated)"
            )));
        }
        file.read_exact(&mut word).map_err(|e| io_error(path, &e))?;
        pos += 4;
        if word == [0xFF; 4] {
            if pos + 4 > len {
                return Err(bad(format!(
                    "the stream ends inside a message header at byte {pos} (truncated)"
                )));
            }
            file.read_exact(&mut word).map_err(|e| io_error(path, &e))?;
            pos += 4;
        }
        let meta_len = i32::from_le_bytes(word);
        if meta_len == 0 {
            return Ok(()); // end-of-stream marker
        }
        let meta_len = u64::try_from(meta_len)
            .map_err(|_| bad(format!("negative message length at byte {pos}")))?;
        if pos + meta_len > len {
            return Err(bad(format!(
                "a message at byte {pos} extends beyond the end of the file (truncated)"
            )));
        }
        let mut meta = vec![0u8; meta_len as usize];
        file.read_exact(&mut meta).map_err(|e| io_error(path, &e))?;
        pos += meta_len;
        let message = root_as_message(&meta)
            .map_err(|e| bad(format!("unreadable message at byte {pos}: {e}")))?;
        let body = u64::try_from(message.bodyLength())
            .map_err(|_| bad(format!("negative message body length at byte {pos}")))?;
        if pos.checked_add(body).is_none_or(|end| end > len) {
            return Err(bad(format!(
                "a message body at byte {pos} extends beyond the end of the file (truncated)"
            )));
        }
        pos += body;
        file.seek(SeekFrom::Start(pos))
            .map_err(|e| io_error(path, &e))?;
    }
}

fn file_len(path: &Path, file: &File) -> Result<u64> {
    Ok(file.metadata().map_err(|e| io_error(path, &e))?.len())
}
