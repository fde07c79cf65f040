/* vkn-cgan: a run's sample grid as a PNG with real text (class names over the columns, the fixed
 * noise vectors z1..z10 left of the rows, a title), drawn with the viewer's canvas and fonts. */
#include "cgan_app.h"

#include <string.h>

static const char *fashion_names[CG_CLASSES] = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal", "Shirt", "Sneaker", "Bag", "Boot"};
static const char *digit_names[CG_CLASSES] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

static const char *fashion_abbrev[CG_CLASSES] = {"Tee", "Trs", "Pul", "Drs", "Coat", "Sdl", "Shrt", "Snk", "Bag", "Boot"};

const char *const *cg_class_abbrev(const char *data)
{
    return data && !strcmp(data, "mnist") ? digit_names : fashion_abbrev;
}

const char *const *cg_class_names(const char *data)
{
    return data && !strcmp(data, "mnist") ? digit_names : fashion_names;
}

vkn_status cg_grid_png(vkn_ui *ui, const float *images, const char *const *class_names, const char *title,
                       const char *path)
{
    static const char *rows[CG_ROWS] = {"z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z10"};
    vkn_canvas *c = ui->canvas;
    vkn_canvas_clear(c, VKN_COL_BG);
    vkn_canvas_text(c, ui->bold, 15.f, 12, 10, VKN_ALIGN_LEFT | VKN_ALIGN_TOP, VKN_COL_TEXT, title);
    vkn_rect r = {8, 34, c->w - 16, c->h - 42};
    vkn_grid g = {images, CG_GRID, 1, CG_IMG, CG_IMG, CG_ROWS, CG_CLASSES, NULL, NULL, class_names, rows, -1};
    vkn_ui_grid(ui, r, &g);
    return vkn_canvas_write_png(c, path);
}
