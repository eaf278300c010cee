package dev.perfadvisor.shop;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.client.TestRestTemplate;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.cache.CacheManager;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.ActiveProfiles;

/** The REST API end to end over HTTP, on H2 in PostgreSQL mode with an in-memory cache. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@ActiveProfiles("test")
class ShopApiTest {

    /** Stands in for the Redis stream: records what would have been queued for the worker. */
    static class RecordingQueue implements OrderJobQueue {
        final List<Long> orderIds = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void enqueue(long orderId, long customerId) {
            orderIds.add(orderId);
        }
    }

    @TestConfiguration
    static class Config {
        @Bean
        @Primary
        RecordingQueue recordingQueue() {
            return new RecordingQueue();
        }
    }

    private static final ParameterizedTypeReference<Map<String, Object>> MAP = new ParameterizedTypeReference<>() {
    };
    private static final ParameterizedTypeReference<List<Map<String, Object>>> LIST =
            new ParameterizedTypeReference<>() {
            };

    @Autowired
    TestRestTemplate http;

    @Autowired
    RecordingQueue queue;

    @Autowired
    CacheManager caches;

    @Autowired
    JdbcTemplate jdbc;

    @LocalManagementPort
    int managementPort;

    private int stock(long productId) {
        return jdbc.queryForObject("SELECT stock FROM products WHERE id = ?", Integer.class, productId);
    }

    @Test
    void categoriesAreListedByName() {
        List<Map<String, Object>> body = http.exchange("/api/categories", HttpMethod.GET, null, LIST).getBody();
        assertThat(body).extracting(m -> m.get("name")).containsExactly("Books", "Garden");
    }

    @Test
    void productsOfACategoryComeNewestFirstWithPagination() {
        Map<String, Object> first = http.exchange("/api/products?category=1&size=2", HttpMethod.GET, null, MAP).getBody();
        assertThat((List<Map<String, Object>>) first.get("items")).extracting(m -> m.get("name"))
                .containsExactly("New Atlas", "100% Cotton Bookmark");
        assertThat(first.get("hasNext")).isEqualTo(true);
        Map<String, Object> second = http.exchange("/api/products?category=1&size=2&page=1", HttpMethod.GET, null, MAP)
                .getBody();
        assertThat((List<Map<String, Object>>) second.get("items")).extracting(m -> m.get("name"))
                .containsExactly("Old Atlas");
        assertThat(second.get("hasNext")).isEqualTo(false);
    }

    @Test
    void pageSizeIsBounded() {
        assertThat(http.getForEntity("/api/products?category=1&size=1000", String.class).getStatusCode())
                .isEqualTo(HttpStatus.BAD_REQUEST);
    }

    @Test
    void productDetailIsCached() {
        ResponseEntity<Map<String, Object>> r = http.exchange("/api/products/4", HttpMethod.GET, null, MAP);
        assertThat(r.getStatusCode()).isEqualTo(HttpStatus.OK);
        assertThat(r.getBody()).containsEntry("name", "Garden Hose").containsEntry("categoryName", "Garden");
        assertThat(caches.getCache(ShopService.PRODUCTS_CACHE).get(4L)).isNotNull();
    }

    @Test
    void unknownProductIs404AndNotCached() {
        assertThat(http.getForEntity("/api/products/999", String.class).getStatusCode()).isEqualTo(HttpStatus.NOT_FOUND);
        assertThat(caches.getCache(ShopService.PRODUCTS_CACHE).get(999L)).isNull();
        assertThat(http.getForEntity("/api/products/999/reviews", String.class).getStatusCode())
                .isEqualTo(HttpStatus.NOT_FOUND);
    }

    @Test
    void reviewsComeNewestFirstWithTheirAuthor() {
        List<Map<String, Object>> body = http.exchange("/api/products/1/reviews", HttpMethod.GET, null, LIST).getBody();
        assertThat(body).extracting(m -> m.get("title")).containsExactly("Dated", "Good");
        assertThat(body.get(0)).containsEntry("author", "Ada");
    }

    @Test
    void searchIsACaseInsensitiveSubstringMatchWithWildcardsEscaped() {
        List<Map<String, Object>> atlas = http.exchange("/api/products/search?q=ATLAS", HttpMethod.GET, null, LIST)
                .getBody();
        assertThat(atlas).extracting(m -> m.get("name")).containsExactly("New Atlas", "Old Atlas");
        List<Map<String, Object>> percent = http.exchange("/api/products/search?q={q}", HttpMethod.GET, null, LIST, "0%")
                .getBody();
        assertThat(percent).extracting(m -> m.get("name")).containsExactly("100% Cotton Bookmark");
        assertThat(http.getForEntity("/api/products/search?q={q}", String.class, "  ").getStatusCode())
                .isEqualTo(HttpStatus.BAD_REQUEST);
    }

    @Test
    void placingAnOrderDecrementsStockQueuesAJobAndShowsInTheHistory() {
        int before = stock(3);
        ResponseEntity<Map<String, Object>> r = http.exchange("/api/orders", HttpMethod.POST,
                new org.springframework.http.HttpEntity<>(Map.of("customerId", 2,
                        "items", List.of(Map.of("productId", 3, "quantity", 2), Map.of("productId", 1, "quantity", 1)))),
                MAP);
        assertThat(r.getStatusCode()).isEqualTo(HttpStatus.CREATED);
        long orderId = ((Number) r.getBody().get("id")).longValue();
        assertThat(((Number) r.getBody().get("totalCents")).longValue()).isEqualTo(2 * 300 + 1500);
        assertThat(stock(3)).isEqualTo(before - 2);
        assertThat(queue.orderIds).contains(orderId);

        List<Map<String, Object>> history = http.exchange("/api/customers/2/orders", HttpMethod.GET, null, LIST)
                .getBody();
        Map<String, Object> latest = history.get(0);
        assertThat(((Number) latest.get("id")).longValue()).isEqualTo(orderId);
        assertThat((List<Map<String, Object>>) latest.get("items")).extracting(m -> m.get("productName"))
                .containsExactly("Old Atlas", "100% Cotton Bookmark");

        List<Map<String, Object>> top = http.exchange("/api/reports/top-products?days=1", HttpMethod.GET, null, LIST)
                .getBody();
        assertThat(top).extracting(m -> m.get("name")).contains("100% Cotton Bookmark");
    }

    @Test
    void anOrderBeyondStockIsRefusedAndRolledBack() {
        int hose = stock(4);
        int atlas = stock(1);
        ResponseEntity<String> r = http.postForEntity("/api/orders", Map.of("customerId", 1,
                "items", List.of(Map.of("productId", 1, "quantity", 1), Map.of("productId", 4, "quantity", hose + 1))),
                String.class);
        assertThat(r.getStatusCode()).isEqualTo(HttpStatus.CONFLICT);
        assertThat(stock(1)).isEqualTo(atlas);
        assertThat(stock(4)).isEqualTo(hose);
    }

    @Test
    void badOrdersAre400() {
        assertThat(http.postForEntity("/api/orders", Map.of("customerId", 999,
                "items", List.of(Map.of("productId", 1, "quantity", 1))), String.class).getStatusCode())
                .isEqualTo(HttpStatus.BAD_REQUEST);
        assertThat(http.postForEntity("/api/orders", Map.of("customerId", 1, "items", List.of()), String.class)
                .getStatusCode()).isEqualTo(HttpStatus.BAD_REQUEST);
        assertThat(http.postForEntity("/api/orders", Map.of("customerId", 1,
                "items", List.of(Map.of("productId", 1, "quantity", 0))), String.class).getStatusCode())
                .isEqualTo(HttpStatus.BAD_REQUEST);
    }

    @Test
    void actuatorExposesPrometheusSeriesForThePoolAndRequests() {
        http.getForEntity("/api/products/2", String.class);
        http.getForEntity("/api/products/2", String.class);
        String base = "http://127.0.0.1:" + managementPort + "/actuator";
        String prom = http.getForObject(base + "/prometheus", String.class);
        assertThat(prom).contains("hikaricp_connections_pending{")
                .contains("hikaricp_connections_max{")
                .contains("hikaricp_connections_acquire_seconds_bucket{")
                .contains("http_server_requests_seconds_bucket{");
        // cache_gets_* exists only for the Redis cache manager (not this in-memory one): tests/stack checks it.
        assertThat(http.getForObject(base + "/health", String.class)).contains("\"UP\"");
    }

    @Test
    void configpropsShowsThePoolSizeAndTtlsButNoPassword() {
        String base = "http://127.0.0.1:" + managementPort + "/actuator";
        String props = http.getForObject(base + "/configprops", String.class);
        assertThat(props).contains("\"maximumPoolSize\":2").contains("\"products\":\"PT1S\"");
        assertThat(props).doesNotContain("\"password\":\"\"").contains("\"password\":\"******\"");
    }
}
