//! `wxpay upload FILE`: a media upload as PHP's `MediaUtil` makes it — the `meta` JSON (file name and
//! SHA-256) signed, the file streamed from disk — with the answer (`media_id`, or `media_url`) on stdout.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;
use wechatpay::media::{self, Upload};

use crate::config::{ConfigArgs, Resolved};
use crate::failure::{Exit, Failure};
use crate::output;

/// Extensions WeChat Pay takes on its video endpoint; everything else goes to the image one.
const VIDEO_EXTENSIONS: [&str; 10] = ["avi", "wmv", "mpeg", "mp4", "mov", "mkv", "flv", "f4v", "m4v", "rmvb"];

/// What `upload` takes.
#[derive(Args)]
pub(crate) struct UploadArgs {
    /// The file to upload.
    file: PathBuf,
    /// The upload endpoint. Default: `v3/merchant/media/video_upload` for a video (by its extension),
    /// else `v3/merchant/media/upload`. Others: `v3/marketing/favor/media/image-upload` (coupon images,
    /// answering `media_url`), `v3/merchant-service/images/upload` (complaint images). A PHP or Node chain
    /// spelling works too (`v3.merchant.media.video_upload`).
    #[arg(long, value_name = "PATH")]
    to: Option<String>,
    /// The `meta` JSON object, for endpoints that take more than the file's name and SHA-256 (which are
    /// added when missing).
    #[arg(long, value_name = "JSON")]
    meta: Option<String>,
    #[command(flatten)]
    layout: output::Layout,
    #[command(flatten)]
    config: ConfigArgs,
}

/// The endpoint a file goes to by default.
fn endpoint_for(file: &std::path::Path) -> &'static str {
    let ext = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        media::VIDEO_UPLOAD
    } else {
        media::MEDIA_UPLOAD
    }
}

pub(crate) fn run(args: UploadArgs, before: ConfigArgs) -> crate::CliResult {
    let path = match &args.to {
        Some(to) if crate::call::is_chain_spelling(to) => wechatpay::catalog::normalize_path(to),
        Some(to) => wechatpay::path::append("", to),
        None => endpoint_for(&args.file).to_owned(),
    };
    let meta = args
        .meta
        .as_deref()
        .map(|text| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(meta)) => Ok(meta),
            _ => Err(Failure::usage("--meta is not a JSON object")
                .note(r#"e.g. --meta '{"bank_type":"CMB"}' (filename and sha256 are added when missing)"#)),
        })
        .transpose()?;
    // Read (and hashed) before any configuration: a missing file is the first thing to say.
    let mut upload = Upload::from_path(&args.file).map_err(|e| Failure::with_sources(Exit::Usage, &e, &e))?;
    if let Some(mut meta) = meta {
        meta.entry("filename").or_insert_with(|| upload.filename().into());
        meta.entry("sha256").or_insert_with(|| upload.sha256().into());
        upload = upload.meta(&meta).map_err(|e| Failure::from_wechatpay(&e))?;
    }
    let config = before.then(args.config);
    let client = Resolved::load(&config)?.client(&config)?;
    let answer = media::upload(&client, &path, upload)
        .wait()
        .map_err(|e| Failure::from_wechatpay(&e))?;
    match output::reformat(answer.bytes(), args.layout.pretty()) {
        Some(json) => output::print_line(&json),
        None => output::print_bytes(answer.bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_go_to_the_video_endpoint() {
        assert_eq!(endpoint_for("intro.MP4".as_ref()), media::VIDEO_UPLOAD);
        assert_eq!(endpoint_for("logo.png".as_ref()), media::MEDIA_UPLOAD);
        assert_eq!(endpoint_for("README".as_ref()), media::MEDIA_UPLOAD);
    }
}
