//! Screenshots: viewport (default), full page (height capped) or one element,
//! downscaled by Chromium itself (clip scale) so no image is decoded here.

use std::time::Duration;

use browserfarm_protocol::{
    ErrorKind, Image, ImageFormat, JobError, JobOutput, ScreenshotArgs, WaitUntil,
};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, Viewport,
};

use crate::tab::cdp::{OpResult, Tab, js_str};

/// Tallest full-page capture, in CSS pixels: beyond this Chromium takes seconds
/// and JPEG encoding can come back empty.
pub const MAX_FULL_PAGE_HEIGHT: f64 = 16_384.0;
/// JPEG quality when the caller gives none.
pub const DEFAULT_JPEG_QUALITY: u8 = 80;

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Region {
    Rect { x: f64, y: f64, w: f64, h: f64 },
    Missing { error: String },
}

/// One round trip: the region to capture, in page coordinates.
fn region_js(args: &ScreenshotArgs) -> String {
    match &args.selector {
        Some(sel) => format!(
            "(() => {{ let el; try {{ el = document.querySelector({sel}); }} \
             catch (e) {{ return {{error: 'invalid CSS selector: ' + e.message}}; }} \
             if (!el) return {{error: 'none'}}; \
             el.scrollIntoView({{block: 'nearest', inline: 'nearest'}}); \
             const r = el.getBoundingClientRect(); \
             return {{x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}}; }})()",
            sel = js_str(sel)
        ),
        None if args.full_page == Some(true) => "(() => { const d = document.documentElement; \
             const b = document.body || d; \
             return {x: 0, y: 0, w: Math.max(d.scrollWidth, b.scrollWidth, innerWidth), \
             h: Math.max(d.scrollHeight, b.scrollHeight, innerHeight)}; })()"
            .to_owned(),
        None => "({x: scrollX, y: scrollY, w: innerWidth, h: innerHeight})".to_owned(),
    }
}

/// `screenshot`: of the page `args.url` names (loaded first) or the current one.
pub(crate) async fn run(
    tab: Tab<'_>,
    args: &ScreenshotArgs,
    nav_timeout: Duration,
    budget: usize,
) -> OpResult<JobOutput> {
    let status =
        super::navigate::load(tab, args.url.as_deref(), WaitUntil::Load, nav_timeout).await?;
    let mut page = super::navigate::page_info(tab, status).await?;
    let (image, note) = capture(tab, args, &page.url, budget).await?;
    page.notes.extend(note);
    if args.url.is_none() && tab.watch.skipped() > 0 {
        page.notes.push(
            "this page was loaded by scrape, which skips images, fonts and frames, so some \
             may be missing here; navigate to it (or screenshot with url) to see them"
                .to_owned(),
        );
    }
    Ok(JobOutput::Screenshot { page, image })
}

/// Captures what `args` asks for; when the image is larger than `budget` bytes,
/// captures it again as JPEG and then smaller until it fits, and says so in the
/// returned note.
pub(crate) async fn capture(
    tab: Tab<'_>,
    args: &ScreenshotArgs,
    url: &str,
    budget: usize,
) -> OpResult<(Image, Option<String>)> {
    let (x, y, w, mut h) = match tab
        .eval::<Region>("measuring the page", &region_js(args))
        .await?
    {
        Region::Rect { x, y, w, h } => (x, y, w, h),
        Region::Missing { error } if error == "none" => {
            return Err(JobError::new(
                ErrorKind::ElementNotFound,
                format!(
                    "no element matches selector '{}' on {url}; call scrape with \
                     format=\"html\" to see the page's structure, or omit selector",
                    args.selector.as_deref().unwrap_or_default()
                ),
            )
            .into());
        }
        Region::Missing { error } => return Err(JobError::invalid_argument(error).into()),
    };
    if w < 1.0 || h < 1.0 {
        return Err(JobError::new(
            ErrorKind::ElementNotFound,
            format!("the area to capture on {url} is empty ({w}×{h} px); is the element hidden?"),
        )
        .into());
    }
    h = h.min(MAX_FULL_PAGE_HEIGHT);
    let mut scale = match args.max_width {
        Some(max) if w > f64::from(max) => f64::from(max) / w,
        _ => 1.0,
    };
    let mut format = args.format.unwrap_or_default();
    let mut quality = args.quality.unwrap_or(DEFAULT_JPEG_QUALITY);
    let mut data_base64 = shoot(tab, args, (x, y, w, h), scale, format, quality).await?;
    let mut note = None;
    // A few tries at most: JPEG first (text stays legible), then smaller images.
    for _ in 0..4 {
        let bytes = data_base64.len() / 4 * 3;
        if bytes <= budget {
            break;
        }
        if format == ImageFormat::Png {
            format = ImageFormat::Jpeg;
        } else {
            scale *= ((budget as f64 / bytes as f64).sqrt() * 0.9).clamp(0.2, 0.9);
            quality = quality.min(70);
        }
        data_base64 = shoot(tab, args, (x, y, w, h), scale, format, quality).await?;
        note = Some(format!(
            "the image was over the {budget}-byte screenshot budget, so it is a JPEG              (quality {quality}) at {:.0}×{:.0}; pass max_width or a selector for a smaller              area, or raise the server's --screenshot-max-bytes",
            w * scale,
            h * scale
        ));
    }
    if data_base64.len() / 4 * 3 > budget {
        return Err(JobError::new(
            ErrorKind::InvalidArgument,
            format!(
                "the screenshot stays over the {budget}-byte budget even scaled down; capture                  the viewport or one element instead of the full page"
            ),
        )
        .into());
    }
    Ok((
        Image {
            mime_type: format.mime_type().to_owned(),
            data_base64,
            width: (w * scale).round() as u32,
            height: (h * scale).round() as u32,
        },
        note,
    ))
}

/// One capture of the region `(x, y, w, h)` (page coordinates).
async fn shoot(
    tab: Tab<'_>,
    args: &ScreenshotArgs,
    (x, y, w, h): (f64, f64, f64, f64),
    scale: f64,
    format: ImageFormat,
    quality: u8,
) -> OpResult<String> {
    let params = CaptureScreenshotParams {
        format: Some(match format {
            ImageFormat::Png => CaptureScreenshotFormat::Png,
            ImageFormat::Jpeg => CaptureScreenshotFormat::Jpeg,
        }),
        quality: (format == ImageFormat::Jpeg).then(|| i64::from(quality)),
        clip: Some(Viewport {
            x,
            y,
            width: w,
            height: h,
            scale,
        }),
        capture_beyond_viewport: Some(args.full_page == Some(true) || args.selector.is_some()),
        ..Default::default()
    };
    let shot = tab.exec("capturing the screenshot", params).await?;
    let data_base64 = AsRef::<str>::as_ref(&shot.data).to_owned();
    if data_base64.is_empty() {
        return Err(JobError::new(
            ErrorKind::Internal,
            "Chromium returned an empty image; try format=\"png\" or a smaller area",
        )
        .into());
    }
    Ok(data_base64)
}
