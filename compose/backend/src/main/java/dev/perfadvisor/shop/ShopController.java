package dev.perfadvisor.shop;

import java.util.List;

import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

import dev.perfadvisor.shop.Model.Category;
import dev.perfadvisor.shop.Model.Order;
import dev.perfadvisor.shop.Model.OrderLine;
import dev.perfadvisor.shop.Model.Page;
import dev.perfadvisor.shop.Model.PlaceOrderRequest;
import dev.perfadvisor.shop.Model.PlacedOrder;
import dev.perfadvisor.shop.Model.Product;
import dev.perfadvisor.shop.Model.ProductSummary;
import dev.perfadvisor.shop.Model.Review;
import dev.perfadvisor.shop.Model.TopProduct;

/** The shop's REST API under /api. Inputs are checked here; everything else is in ShopService. */
@RestController
@RequestMapping("/api")
public class ShopController {

    static final int MAX_PAGE_SIZE = 100;
    static final int MAX_ORDER_LINES = 50;

    private final ShopService shop;
    private final ProductRepository products;
    private final OrderJobQueue jobs;

    public ShopController(ShopService shop, ProductRepository products, OrderJobQueue jobs) {
        this.shop = shop;
        this.products = products;
        this.jobs = jobs;
    }

    @GetMapping("/categories")
    public List<Category> categories() {
        return shop.categories();
    }

    @GetMapping("/products")
    public Page<ProductSummary> productsByCategory(@RequestParam long category,
                                                   @RequestParam(defaultValue = "0") int page,
                                                   @RequestParam(defaultValue = "20") int size) {
        require(page >= 0 && page <= 10_000, "page must be between 0 and 10000");
        require(size >= 1 && size <= MAX_PAGE_SIZE, "size must be between 1 and " + MAX_PAGE_SIZE);
        List<ProductSummary> rows = products.byCategoryNewestFirst(category, size + 1, page * size);
        boolean hasNext = rows.size() > size;
        return new Page<>(hasNext ? rows.subList(0, size) : rows, page, size, hasNext);
    }

    @GetMapping("/products/search")
    public List<ProductSummary> search(@RequestParam String q, @RequestParam(defaultValue = "20") int limit) {
        require(!q.isBlank() && q.length() <= 100, "q must be 1 to 100 characters");
        require(limit >= 1 && limit <= MAX_PAGE_SIZE, "limit must be between 1 and " + MAX_PAGE_SIZE);
        return products.searchByName(q.strip(), limit);
    }

    @GetMapping("/products/{id}")
    public Product product(@PathVariable long id) {
        return shop.product(id);
    }

    @GetMapping("/products/{id}/reviews")
    public List<Review> reviews(@PathVariable long id, @RequestParam(defaultValue = "20") int limit) {
        require(limit >= 1 && limit <= MAX_PAGE_SIZE, "limit must be between 1 and " + MAX_PAGE_SIZE);
        if (!products.exists(id)) {
            throw new ResponseStatusException(HttpStatus.NOT_FOUND, "no product " + id);
        }
        return products.reviews(id, limit);
    }

    @GetMapping("/customers/{id}/orders")
    public List<Order> orderHistory(@PathVariable long id, @RequestParam(defaultValue = "10") int limit) {
        require(limit >= 1 && limit <= MAX_PAGE_SIZE, "limit must be between 1 and " + MAX_PAGE_SIZE);
        return shop.orderHistory(id, limit);
    }

    @PostMapping("/orders")
    @ResponseStatus(HttpStatus.CREATED)
    public PlacedOrder placeOrder(@RequestBody PlaceOrderRequest request) {
        require(request != null && request.customerId() != null, "customerId is required");
        require(request.items() != null && !request.items().isEmpty() && request.items().size() <= MAX_ORDER_LINES,
                "items must hold 1 to " + MAX_ORDER_LINES + " lines");
        for (OrderLine line : request.items()) {
            require(line != null && line.productId() != null && line.quantity() != null
                    && line.quantity() >= 1 && line.quantity() <= 100,
                    "each item needs a productId and a quantity from 1 to 100");
        }
        PlacedOrder placed = shop.placeOrder(request);
        jobs.enqueue(placed.id(), placed.customerId());
        return placed;
    }

    @GetMapping("/reports/top-products")
    public List<TopProduct> topProducts(@RequestParam(defaultValue = "30") int days,
                                        @RequestParam(defaultValue = "10") int limit) {
        require(days >= 1 && days <= 3650, "days must be between 1 and 3650");
        require(limit >= 1 && limit <= MAX_PAGE_SIZE, "limit must be between 1 and " + MAX_PAGE_SIZE);
        return shop.topProducts(days, limit);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new ResponseStatusException(HttpStatus.BAD_REQUEST, message);
        }
    }
}
