"""The Bridges page's live tab: k-means beside a self-organising map that trains as it is watched,
saved as it goes and restored when the same browser comes back (a reload, a server restart)."""
import streamlit as st

from app_pages.bridges.state import (SAVE_NAME, SOM_DATASETS, SOM_RADII, SOM_RATES, SOM_SCHEDULES, SOM_SIDES,
                                     SOM_SPEEDS, SOMRun, restored_map_widgets, som_config_from_widgets, som_story)
from app_pages.common.controls import play_pause_button
from app_pages.common.live_plotly import live_plotly
from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from engine import ConfigError
from engine.bridges.som import SOMTrainer
from viz.bridges import kmeans_figure, prototype_mosaic, schedule_figure, som_figure

state = st.session_state


def restore_saved_map() -> None:
    """The self-organising map this browser last trained here (a reload, a laptop's sleep, a server
    restart), unless the address describes another map or seed: a shared link wins."""
    with st.spinner("Restoring your map…"):
        trainer, problem = saved_trainer(SAVE_NAME, SOMTrainer.from_checkpoint, "map")
    if problem:
        state.br_notice = ("warning", problem)
    if trainer is None:
        return
    values = restored_map_widgets(trainer.config, st.query_params.to_dict())
    if values is None:
        return
    state.update(values)
    with st.spinner("Fitting k-means beside your map…"):
        state.br_som_run = SOMRun.around(trainer)
    state.br_som_run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.br_notice = ("success", f"Restored your self-organising map at step {trainer.step_count:,}, as last "
                                  "saved. Press Play to go on.")
    use_seed(trainer.config.seed)


def som_tab(seed: int) -> None:
    """The k-means ↔ self-organising map tab, with the map trained live."""
    def on_play(play: bool) -> None:
        run = state.get("br_som_run")
        if run is not None:
            run.play() if play else run.pause()

    def on_step(step_drawn: int) -> None:
        run = state.get("br_som_run")
        if run is not None and (run.playing or run.trainer.step_count == step_drawn):
            run.pause()
            run.step(100)

    def on_reset() -> None:
        state.pop("br_som_run", None)
        forget_run(SAVE_NAME)  # a reload after Reset brings the new map, not the one thrown away

    run: SOMRun | None = state.get("br_som_run")
    playing = run is not None and run.playing
    bar = st.columns([1, 1, 1, 2.2])
    play_pause_button(bar[0], "br_som", playing, on_play, help="Present points to the map, live")
    bar[1].button("⏭ Step", key="br_som_step", on_click=on_step, args=(run.trainer.step_count if run else 0,),
                  use_container_width=True, help="Present 100 points")
    bar[2].button("↺ Reset", key="br_som_reset", on_click=on_reset, use_container_width=True,
                  help="A new crumpled map")
    bar[3].selectbox("Speed", list(SOM_SPEEDS), key="br_som_speed", label_visibility="collapsed")
    c = st.columns(6)
    c[0].selectbox("Data", SOM_DATASETS, key="br_som_data", help="digits: the 1,797 8×8 images of scikit-learn")
    c[1].slider("Map rows", *SOM_SIDES, key="br_som_rows")
    c[2].slider("Map columns", *SOM_SIDES, key="br_som_cols")
    c[3].select_slider("Schedule (points)", SOM_SCHEDULES, key="br_som_steps",
                       help="Learning rate and radius decay exponentially over this many points")
    c[4].select_slider("Start learning rate", SOM_RATES, key="br_som_lr")
    c[5].select_slider("Start radius", SOM_RADII, key="br_som_radius",
                       format_func=lambda v: "half the map" if v == 0 else f"{v:g}")
    try:
        som_config = som_config_from_widgets(state, seed)
    except ConfigError as e:
        st.error(f"This setting is not possible: {e}.", icon="🚫")
        som_config = run.config if run else None
    if som_config is not None and (run is None or run.config != som_config):
        with st.spinner("Fitting k-means and laying out a new map…"):
            was_playing = run is not None and run.playing
            if run is not None:
                run.pace.stop()  # the map thrown away no longer takes a share of the server
                forget_run(SAVE_NAME)  # the trained map was thrown away: a reload must not bring it back
            run = state.br_som_run = SOMRun.build(som_config, SOM_SPEEDS[state.br_som_speed])
            run.playing = was_playing
    if run is not None:
        run.points_per_frame = SOM_SPEEDS[state.br_som_speed]  # a view setting: applied to the running map

    @st.fragment(run_every=run.pace.run_every(playing) if run is not None else None)
    def som_view() -> None:
        run: SOMRun = state.br_som_run
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            run.tick()
            frame.trained()
            if not run.playing and playing:
                st.rerun()  # the schedule ended: redraw the Play button
            if run.message:
                st.info(run.message, icon="⏸")
            draw_map(run)
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    if run is not None:
        som_view()


def draw_map(run: SOMRun) -> None:
    """One frame of the live map: its numbers, k-means beside the map, the story and the schedule."""
    t = run.trainer
    h = t.history[-1]
    m = st.columns(5)
    m[0].metric("Step", f"{t.step_count:,}")
    m[1].metric("Neighbourhood radius", f"{h['radius']:.2f}")
    m[2].metric("Learning rate", f"{h['lr']:.3f}")
    m[3].metric("SOM quantisation error", f"{h['quantisation_error']:.3f}")
    m[4].metric("k-means quantisation error", f"{run.kmeans['quantisation_error']:.3f}")
    km = run.kmeans
    left, right = st.columns(2, gap="medium")
    if t.config.data == "digits":
        centres = km["centres"].reshape(t.config.rows, t.config.cols, -1)
        with left:
            live_plotly(prototype_mosaic(t.prototypes(), f"SOM prototypes, step {t.step_count:,}: neighbours "
                                                         "look alike"), key="br_som_mosaic")
        with right:
            live_plotly(prototype_mosaic(centres, "k-means centres: no order between them"), key="br_km_mosaic")
    else:
        with left:
            live_plotly(kmeans_figure(t.x_np, t.labels, km["centres"], km["quantisation_error"]), key="br_km_fig")
        with right:
            live_plotly(som_figure(t.x_np, t.labels, t.prototypes(), t.step_count, h["quantisation_error"]),
                        key="br_som_fig")
    st.markdown(som_story(run))
    live_plotly(schedule_figure(t.history, km["quantisation_error"]), key="br_som_schedule")
    st.caption("What to see: k-means and the map both place prototypes where the data is, scored by the mean "
               "distance from a point to its nearest prototype. The map also keeps an order: neighbours on the "
               "grid stay neighbours in the data, which k-means does not promise — so it pays a slightly larger "
               "error. Press ▶ Play to watch the crumpled grid unfold as the radius shrinks.")
    run.autosave(save_map)
    if state.get("br_save_problem"):
        st.caption(state.br_save_problem)


def save_map(checkpoint: bytes) -> None:
    state.br_save_problem = save_run(SAVE_NAME, checkpoint)
