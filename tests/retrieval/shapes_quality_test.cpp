// Measured retrieval quality on the bundled data (issue 6): the 500 scenes of
// tests/data/eval/shapes indexed from their images alone with the bundled model, ground truth
// from the caption answers in questions.jsonl. Prints each figure next to a random ranking's.
//   text search:     top-10 precision for the 18 colour+shape queries ("a red circle", ...)
//   recommendation:  from 3 liked scenes sharing an object, the share of the top 10 unseen
//                    recommendations that contain it, over the 18 objects
// One test builds the index once (captioning 500 images is most of its time).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include "lumen/core/thread_pool.h"
#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/item_index.h"
#include "lumen/retrieval/recommend.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kColours = {"red", "green", "blue", "yellow", "purple", "orange"};
const std::vector<std::string> kShapes = {"circle", "square", "triangle"};

struct Scene {
  std::string id;
  std::string image;
  std::set<std::string> objects;  // "red circle", ...
};

// Scenes in file order with the objects their caption answer names.
std::vector<Scene> read_scenes() {
  const fs::path dir = testing::data_dir() / "eval" / "shapes";
  std::ifstream in(dir / "questions.jsonl");
  const std::regex object("(red|green|blue|yellow|purple|orange) (circle|square|triangle)");
  std::vector<Scene> scenes;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] != "caption") continue;
    Scene scene;
    scene.image = (dir / j["image"].get<std::string>()).string();
    scene.id = fs::path(scene.image).stem().string();
    const std::string answer = j["answer"];
    for (auto it = std::sregex_iterator(answer.begin(), answer.end(), object); it != std::sregex_iterator(); ++it) {
      scene.objects.insert((*it)[0].str());
    }
    scenes.push_back(std::move(scene));
  }
  return scenes;
}

double precision(const std::vector<std::string>& ranked, const std::map<std::string, const Scene*>& by_id,
                 const std::string& object) {
  if (ranked.empty()) return 0.0;
  size_t hits = 0;
  for (const auto& id : ranked) hits += by_id.at(id)->objects.count(object);
  return static_cast<double>(hits) / static_cast<double>(ranked.size());
}

TEST(RetrievalQuality, SearchAndRecommendOnBundledShapes) {
  // The bundled model is tiny (hidden 96): one thread captions fastest, and never waits on a
  // busy sibling core (this process runs alone under ctest).
  ThreadPool::set_global_threads(1);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Scene> scenes = read_scenes();
  ASSERT_EQ(scenes.size(), 500u);
  std::map<std::string, const Scene*> by_id;
  std::vector<CatalogItem> items;
  for (const auto& s : scenes) {
    by_id[s.id] = &s;
    CatalogItem item;
    item.id = s.id;
    item.image = s.image;  // images only: no text, no ground truth in the catalog
    item.fields = {{"id", s.id}, {"image", s.image}};
    items.push_back(std::move(item));
  }

  auto embedder = load_embedder(testing::bundled_model_dir());
  ASSERT_EQ(embedder->method(), "caption");
  ItemIndex index(embedder->describe(), embedder->dim(), {}, items.size());
  index.upsert(items, embed_catalog_items(*embedder, items, {}, 16));
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("indexed 500 scenes with the caption method in %.1f s (%s mode)\n", build_s, index_mode_name(index.mode()));

  std::mt19937 rng(1234);
  auto random_top10 = [&](const std::set<std::string>& exclude) {
    std::vector<std::string> pool;
    for (const auto& s : scenes) {
      if (!exclude.count(s.id)) pool.push_back(s.id);
    }
    std::shuffle(pool.begin(), pool.end(), rng);
    pool.resize(10);
    return pool;
  };
  constexpr int kRandomTrials = 200;

  // Text search.
  double search_total = 0, search_random = 0;
  for (const auto& colour : kColours) {
    for (const auto& shape : kShapes) {
      const std::string object = colour + " " + shape;
      const std::vector<float> query = embedder->embed_texts({"a " + object});
      std::vector<std::string> ranked;
      for (const auto& r : index.search(query.data(), 10)) ranked.push_back(r.id);
      const double p = precision(ranked, by_id, object);
      search_total += p;
      double random_p = 0;
      for (int t = 0; t < kRandomTrials; ++t) random_p += precision(random_top10({}), by_id, object);
      search_random += random_p / kRandomTrials;
      std::printf("  search \"a %s\": P@10 %.1f\n", object.c_str(), p);
    }
  }
  const double search_precision = search_total / 18.0, search_random_precision = search_random / 18.0;

  // Recommendation: the first three scenes (by id) that hold the object are liked.
  double rec_total = 0, rec_random = 0;
  for (const auto& colour : kColours) {
    for (const auto& shape : kShapes) {
      const std::string object = colour + " " + shape;
      RecommendRequest request;
      for (const auto& s : scenes) {
        if (s.objects.count(object) && request.liked.size() < 3) request.liked.push_back(s.id);
      }
      ASSERT_EQ(request.liked.size(), 3u) << object;
      std::vector<std::string> ranked;
      for (const auto& r : recommend(index, request)) {
        EXPECT_EQ(std::count(request.liked.begin(), request.liked.end(), r.id), 0) << "a liked scene came back";
        ranked.push_back(r.id);
      }
      ASSERT_EQ(ranked.size(), 10u);
      const double p = precision(ranked, by_id, object);
      rec_total += p;
      const std::set<std::string> seen(request.liked.begin(), request.liked.end());
      double random_p = 0;
      for (int t = 0; t < kRandomTrials; ++t) random_p += precision(random_top10(seen), by_id, object);
      rec_random += random_p / kRandomTrials;
    }
  }
  const double rec_precision = rec_total / 18.0, rec_random_precision = rec_random / 18.0;
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("text search P@10 over 18 colour+shape queries: %.3f (random ranking %.3f)\n", search_precision,
              search_random_precision);
  std::printf("recommendation P@10 over 18 three-liked profiles: %.3f (random ranking %.3f)\n", rec_precision,
              rec_random_precision);
  std::printf("quality test total %.1f s\n", total_s);
  EXPECT_GE(search_precision, 0.6);
  EXPECT_GE(rec_precision, 0.5);
  EXPECT_LT(search_random_precision, 0.2);
}

}  // namespace
}  // namespace lumen
