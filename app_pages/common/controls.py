"""Controls every live page shares: the Play/Pause button and the question a page asks
before a structural change throws away a trained model."""
import streamlit as st


def play_pause_button(where, key: str, playing: bool, on_click, args: tuple | None = None, help: str = "") -> None:
    """The primary ▶ Play / ⏸ Pause button of a live page, calling on_click(*args) (default:
    on_click(not playing)). Two keys, `{key}_play` and `{key}_pause`, not one toggle: a click
    the browser delivers again after the rerun it asked for then meets a button that is gone,
    instead of undoing itself."""
    where.button("⏸ Pause" if playing else "▶ Play", key=f"{key}_pause" if playing else f"{key}_play",
                 on_click=on_click, args=(not playing,) if args is None else args, type="primary",
                 width="stretch", help=help)


def describe_changes(changed: list[str], limit: int = 4) -> str:
    """'model.hidden, train.optimizer and 3 more': the changed settings, readable in a sentence."""
    names = list(dict.fromkeys(changed))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def replace_allowed(flag_key: str, wanted: str) -> bool:
    """Take the page's one-shot permission to replace its trained model without asking.

    A deliberate action (a preset, an upload, new data) stores True: replace whatever the
    widgets now say. The "Start the new ..." button stores the config it was drawn for, so a
    click that the browser delivers twice cannot later let an unrelated change through."""
    allowed = st.session_state.pop(flag_key, False)
    return allowed is True or (isinstance(allowed, str) and allowed == wanted)


def ask_before_discard(where, changed: list[str], trained: str, on_replace, on_keep, key: str, *,
                       thing: str = "network", plural: bool = False, replace_args: tuple = (),
                       keep_args: tuple = ()) -> None:
    """Ask before a structural change throws away a model that has trained.

    Draws, into `where` (a placeholder or container; None: here), what changed and how far the
    model on screen has come, and two buttons: "Start the new <thing>" (`{key}_replace`,
    calls on_replace(*replace_args)) and "Keep the trained one" (`{key}_keep`, calls
    on_keep(*keep_args), which should put the widgets back to the running model's settings).
    Until the user chooses, the page goes on with the trained model (hot settings still
    reach it)."""
    new = f"new {thing}s" if plural else f"a new {thing}"
    old = "the ones on screen have" if plural else "the one on screen has"
    keeps = "They keep" if plural else "It keeps"
    with (where if where is not None else st).container(border=True):
        st.warning(f"You changed **{describe_changes(changed)}**: that needs {new}, and {old} trained for "
                   f"{trained}. {keeps} running until you choose.", icon="❓")
        a, b, _ = st.columns([1.3, 1.3, 2])
        a.button(f"Start the new {thing}{'s' if plural else ''}", key=f"{key}_replace", type="primary",
                 on_click=on_replace, args=replace_args, width="stretch")
        b.button(f"Keep the trained one{'s' if plural else ''}", key=f"{key}_keep", on_click=on_keep,
                 args=keep_args, width="stretch")


def _store_replace_permission(flag_key: str, wanted_json: str) -> None:
    st.session_state[flag_key] = wanted_json


def _restore_widgets(widgets_for, running_json: str) -> None:
    st.session_state.update(widgets_for(running_json))


def ask_before_replacing(where, changed: list[str], trained: str, key: str, *, wanted_json: str,
                         running_json: str, flag_key: str, widgets_for, thing: str = "network",
                         plural: bool = False) -> None:
    """ask_before_discard with the two answers most pages give:
    - "Start the new ..." stores the wanted config's JSON under `flag_key`, which the page's
      next run reads with replace_allowed(flag_key, wanted) before it builds the new model;
    - "Keep the trained one" puts the widgets back to the running model's settings:
      widgets_for(running_json) returns them as {widget key: value} (the seed included)."""
    ask_before_discard(where, changed, trained, _store_replace_permission, _restore_widgets, key, thing=thing,
                       plural=plural, replace_args=(flag_key, wanted_json), keep_args=(widgets_for, running_json))
