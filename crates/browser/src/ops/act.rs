//! The element and keyboard actions as jobs: each performs its input through
//! [`super::interact`] and reports the page it ended on with what it did
//! ([`Effect`]), as facts the front end words for the agent.

use std::path::Path;
use std::time::Duration;

use browserfarm_protocol::{
    ClickArgs, Effect, Element, ElementTarget, FillFormArgs, HoverArgs, JobError, JobOutput,
    PageInfo, PressKeyArgs, ScrollArgs, SelectOptionArgs, TypeArgs, UploadFileArgs,
};

use super::{interact, navigate, upload};
use crate::tab::{OpResult, Tab};

fn target(element: &Option<String>, selector: &Option<String>) -> Result<ElementTarget, JobError> {
    ElementTarget::from_args(element.as_deref(), selector.as_deref())
}

fn acted(page: PageInfo, effect: Effect) -> JobOutput {
    JobOutput::Acted { page, effect }
}

pub(crate) async fn click(
    tab: Tab<'_>,
    a: &ClickArgs,
    nav_timeout: Duration,
) -> OpResult<JobOutput> {
    interact::click(tab, &a.target()?, a.double == Some(true), nav_timeout).await?;
    Ok(JobOutput::Clicked {
        page: navigate::page_info(tab, None).await?,
    })
}

pub(crate) async fn type_text(
    tab: Tab<'_>,
    a: &TypeArgs,
    nav_timeout: Duration,
) -> OpResult<JobOutput> {
    let submit = a.submit.unwrap_or(false);
    interact::type_text(tab, &a.target()?, &a.text, submit, nav_timeout).await?;
    Ok(JobOutput::Typed {
        page: navigate::page_info(tab, None).await?,
    })
}

pub(crate) async fn hover(tab: Tab<'_>, a: &HoverArgs) -> OpResult<JobOutput> {
    let t = target(&a.element, &a.selector)?;
    interact::hover(tab, &t).await?;
    let page = navigate::page_info(tab, None).await?;
    Ok(acted(
        page,
        Effect::Hovered {
            target: (&t).into(),
        },
    ))
}

pub(crate) async fn select_option(tab: Tab<'_>, a: &SelectOptionArgs) -> OpResult<JobOutput> {
    let t = target(&a.element, &a.selector)?;
    let values = interact::select_option(tab, &t, &a.values).await?;
    let page = navigate::page_info(tab, None).await?;
    let target = (&t).into();
    Ok(acted(page, Effect::Selected { target, values }))
}

pub(crate) async fn press_key(
    tab: Tab<'_>,
    a: &PressKeyArgs,
    nav_timeout: Duration,
) -> OpResult<JobOutput> {
    let navigated = interact::press_key(tab, &a.key, nav_timeout).await?;
    let page = navigate::page_info(tab, None).await?;
    let key = a.key.clone();
    Ok(acted(page, Effect::Pressed { key, navigated }))
}

pub(crate) async fn scroll(tab: Tab<'_>, a: &ScrollArgs) -> OpResult<JobOutput> {
    let t = match (&a.element, &a.selector) {
        (None, None) => None,
        _ => Some(target(&a.element, &a.selector)?),
    };
    let direction = a.direction.unwrap_or_default();
    let position = interact::scroll(tab, t.as_ref(), direction, a.amount).await?;
    let page = navigate::page_info(tab, None).await?;
    let target = t.as_ref().map(Element::from);
    Ok(acted(
        page,
        Effect::Scrolled {
            target,
            direction,
            position,
        },
    ))
}

pub(crate) async fn fill_form(tab: Tab<'_>, a: &FillFormArgs) -> OpResult<JobOutput> {
    let fields = interact::fill_form(tab, &a.fields).await?;
    let page = navigate::page_info(tab, None).await?;
    Ok(acted(page, Effect::FormFilled { fields }))
}

/// `upload_file`, taking files only from `upload_dir` (none: uploads are off).
pub(crate) async fn upload_file(
    tab: Tab<'_>,
    a: &UploadFileArgs,
    upload_dir: Option<&Path>,
) -> OpResult<JobOutput> {
    let t = target(&a.element, &a.selector)?;
    let files = upload::paths(upload_dir, &a.paths)?;
    interact::upload(tab, &t, &files).await?;
    let page = navigate::page_info(tab, None).await?;
    let target = (&t).into();
    let files = files.len();
    Ok(acted(page, Effect::Uploaded { target, files }))
}
